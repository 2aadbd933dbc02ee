"""Waiting long-polls are capped per conversation and per client address: a flood of
them on one token is answered 429 at once instead of holding the daemon."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.rest.adapter import RestChannel, RestOptions
from handover.model import Conversation
from tests.adapters.test_rest_channel import Rest, error_of, outbound, rest_factory

__all__ = ["rest_factory"]  # the fixture, used by name

Factory = Callable[..., Awaitable[Rest]]


async def waiting(rest: Rest, cid: str, token: str, n: int) -> list[asyncio.Task[Any]]:
    """`n` more long-polls on the conversation, returned once they all wait."""
    before = sum(rest.ctx.connections.values())
    polls = [asyncio.create_task(rest.poll(cid, token, "?after=99&wait=5")) for _ in range(n)]
    for _ in range(200):
        if sum(rest.ctx.connections.values()) >= before + n:
            break
        await asyncio.sleep(0.01)
    return polls


async def test_more_long_polls_on_one_conversation_than_allowed_get_429(
    rest_factory: Factory,
) -> None:
    rest = await rest_factory(RestOptions(long_polls_per_conversation=2))
    cid, token = await rest.open()
    polls = await waiting(rest, cid, token, 2)
    started = asyncio.get_running_loop().time()
    flood = await asyncio.gather(*(rest.poll(cid, token, "?after=99&wait=5") for _ in range(50)))
    assert asyncio.get_running_loop().time() - started < 2
    for resp in flood:
        assert await error_of(resp, 429) == "too_many_polls"
        assert resp.headers["Retry-After"]
    # The two that wait are answered as usual when something arrives.
    conv = await rest.ctx.get_conversation(cid)
    assert isinstance(conv, Conversation) and isinstance(rest.adapter, RestChannel)
    await rest.adapter.deliver(conv, outbound(100))
    for task in polls:
        assert (await task).status == 200
    # And the slots are free again.
    resp = await rest.poll(cid, token, "?after=0")
    assert resp.status == 200


async def test_long_polls_from_one_address_are_capped_across_conversations(
    rest_factory: Factory,
) -> None:
    rest = await rest_factory(RestOptions(long_polls_per_address=3))
    opened = [await rest.open() for _ in range(4)]
    polls = [t for cid, token in opened[:3] for t in await waiting(rest, cid, token, 1)]
    cid, token = opened[3]
    assert await error_of(await rest.poll(cid, token, "?after=99&wait=5"), 429) == (
        "too_many_polls")
    rest.adapter.wakeups.close()
    for task in polls:
        assert (await task).status == 200
