"""Two daemon instances on one store: a send crashes at each of its points on one
instance, its status webhook lands on the other (or never comes), and the retry runs
on either. The citizen never gets the message twice; when nothing proves Meta took
it, the agent is told instead of a blind resend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.whatsapp.sends import Decision
from handover.model import Content, Party
from handover.sdk.contracts import OutboundMessage
from handover.sdk.errors import PermanentError, TransientError
from tests.adapters.whatsapp.conftest import CITIZEN, Channel

Factory = Callable[..., Awaitable[Channel]]


class Crash(BaseException):
    """The process died here (nothing after it runs; not an Exception the code handles)."""


async def pair(channel_factory: Factory) -> tuple[Channel, Channel]:
    """Instance A and instance B sharing the store; Meta's webhook points at B."""
    a = await channel_factory()
    b = await channel_factory()
    b.ctx.state = a.ctx.state
    b.ctx.conversations = a.ctx.conversations
    b.ctx.entries = a.ctx.entries
    return a, b


def crash_at(channel: Channel, point: str) -> None:
    """Make the next send on `channel` die at `point`."""
    client, log = channel.adapter.client, channel.adapter.sends
    if point == "before_request":
        async def send(*args: Any) -> str:
            raise Crash
        client.send = send  # type: ignore[method-assign]
    elif point == "after_request":
        real_send = client.send

        async def taken(*args: Any) -> str:
            await real_send(*args)  # Meta took it ...
            raise Crash             # ... and we died before reading the answer
        client.send = taken  # type: ignore[method-assign]
    elif point == "after_record":
        real_accepted = log.accepted

        async def recorded(*args: Any) -> None:
            await real_accepted(*args)
            raise Crash
        log.accepted = recorded  # type: ignore[method-assign]
    else:
        raise AssertionError(point)


POINTS = ["before_request", "after_request", "after_record"]


@pytest.mark.parametrize("status", ["on_other_instance", "none"])
@pytest.mark.parametrize("point", POINTS)
async def test_a_crash_at_each_point_of_a_send_never_sends_twice(
    channel_factory: Factory, point: str, status: str,
) -> None:
    a, b = await pair(channel_factory)
    fake = a.fake
    assert (await fake.say(CITIZEN, "Hallo"))[0] == 200  # lands on B
    [conv] = list(a.ctx.conversations.values())
    msg = OutboundMessage(seq=5, message_id="agent-1", party=Party.AGENT,
                          content=Content(text="Eén keer, van de medewerker"))
    crash_at(a, point)
    with pytest.raises(Crash):
        await a.adapter.deliver(conv, msg)
    reached = len(fake.sent)
    assert reached == (0 if point == "before_request" else 1)
    if status == "on_other_instance" and reached:
        answer = await fake.post(fake.batch(fake.value(
            statuses=[fake.status_of(fake.sent[0], "sent")])))
        assert answer[0] == 200

    # The outbox retries on the other instance, before and after the reconcile time.
    part = await b.adapter.sends.get("agent-1:0")
    assert part is not None
    if part.state in ("sending", "ambiguous"):
        with pytest.raises(TransientError):
            await b.adapter.deliver(conv, msg)
        b.clock.advance(31)
    if point != "after_record" and not (status == "on_other_instance" and reached):
        # Nothing proves Meta took it: never sent again, the agent is told.
        with pytest.raises(PermanentError):
            await b.adapter.deliver(conv, msg)
    else:
        await b.adapter.deliver(conv, msg)
        await a.adapter.deliver(conv, msg)
    assert fake.texts().count("Eén keer, van de medewerker") == reached <= 1


async def test_a_status_on_either_instance_moves_the_same_part(channel_factory: Factory) -> None:
    a, b = await pair(channel_factory)
    fake = a.fake
    await fake.say(CITIZEN, "Hallo")
    [conv] = list(a.ctx.conversations.values())
    await a.adapter.deliver(conv, OutboundMessage(
        seq=5, message_id="m1", party=Party.BOT, content=Content(text="Van de bot")))
    sent = fake.sent[0]
    await fake.post(fake.batch(fake.value(statuses=[fake.status_of(sent, "read")])))  # B
    part_a, part_b = await a.adapter.sends.get("m1:0"), await b.adapter.sends.get("m1:0")
    assert part_a == part_b and part_a is not None and part_a.state == "read"
    assert part_a.wamid == sent["_wamid"]


async def test_the_window_is_shared_by_every_instance(channel_factory: Factory) -> None:
    a, _b = await pair(channel_factory)
    await a.fake.say(CITIZEN, "Hallo")  # lands on B
    [conv] = list(a.ctx.conversations.values())
    assert await a.adapter.sends.last_inbound(conv.id) is not None
    closes = await a.adapter.window_closes_at(conv)
    assert closes is not None
    assert conv.id in await a.adapter.sends.windows_closing(
        closes - (closes - a.clock.now()) / 2, closes)


def test_the_rule_for_an_unknown_part_is_explicit() -> None:
    from datetime import UTC, datetime, timedelta

    from adapters.whatsapp.sends import Part, decide

    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    wait = timedelta(seconds=120)

    def part(state: str, ago: float) -> Part:
        return Part("p", "c", "agent", None, state, now - timedelta(seconds=ago))

    assert decide(None, now, wait) is Decision.SEND
    for taken in ("accepted", "sent", "delivered", "read"):
        assert decide(part(taken, 999), now, wait) is Decision.DONE
    assert decide(part("failed", 0), now, wait) is Decision.FAILED
    for unknown in ("sending", "ambiguous"):
        assert decide(part(unknown, 119), now, wait) is Decision.WAIT
        assert decide(part(unknown, 120), now, wait) is Decision.UNCONFIRMED


