"""An OBI4wan adapter wired to the fake OBI4wan, with its webhook served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.obi4wan.adapter import Obi4wanDesk
from adapters.obi4wan.options import Obi4wanOptions
from handover.model import Conversation, State, thread_id
from tests.adapters.conftest import FakeContext
from tests.fakes.obi4wan_server import FakeObi4wan

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def options_for(fake: FakeObi4wan, **changes: Any) -> Obi4wanOptions:
    base = Obi4wanOptions(
        api_url=fake.url,
        channel_identifier=fake.channel_identifier,
        channel_token=fake.channel_token,
        chat_guid=fake.chat_guid,
        webhook_secrets=(fake.webhook_secret,),
        request_timeout_seconds=0.2,
        availability_cache_seconds=0.0,
        queue_poll_seconds=0.0,
        circuit_failure_threshold=3,
        circuit_reset_seconds=0.3,
    )
    return replace(base, **changes)


@dataclass
class Desk:
    adapter: Obi4wanDesk
    ctx: FakeContext
    fake: FakeObi4wan
    client: TestClient[Any, Any]

    def queued(self, **context: Any) -> tuple[Conversation, str]:
        conv = self.ctx.add_conversation(channel="web", state=State.QUEUED, handover_no=1,
                                         context=context)
        return conv, thread_id(conv.id, 1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeObi4wan]:
    server = FakeObi4wan()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def desk_factory(
    fake: FakeObi4wan, aiohttp_client: ClientFactory
) -> AsyncIterator[Callable[..., Awaitable[Desk]]]:
    started: list[Obi4wanDesk] = []
    contexts: list[FakeContext] = []
    session = aiohttp.ClientSession()

    async def build(start: bool = False, tick: float = 0.02, **changes: Any) -> Desk:
        ctx = FakeContext("obi", http=session)
        contexts.append(ctx)
        adapter = Obi4wanDesk("obi", options_for(fake, **changes), ctx)
        adapter.tick_seconds = tick
        app = web.Application()
        app.add_subapp("/obi/", adapter.http_app())
        client = await aiohttp_client(app)
        fake.webhook_url = str(client.make_url("/obi/webhook"))
        if start:
            await adapter.start()
            started.append(adapter)
        return Desk(adapter, ctx, fake, client)

    try:
        yield build
    finally:
        for adapter in started:
            await adapter.stop()
        for ctx in contexts:
            await ctx.aclose()
        await session.close()


@pytest.fixture
async def desk(desk_factory: Callable[..., Awaitable[Desk]]) -> Desk:
    return await desk_factory()
