"""A WhatsApp channel wired to the fake Graph API, its webhook served on loopback, with
the fake core context and a fake clock shared by the channel and the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.whatsapp.adapter import WhatsAppChannel
from adapters.whatsapp.options import TenantNumber, WhatsAppOptions
from handover.clock import FakeClock
from handover.model import Conversation
from tests.adapters.conftest import TENANT, FakeContext
from tests.fakes.whatsapp_server import VERSION, FakeGraph

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
CITIZEN = "31612345678"


def options_for(fake: FakeGraph, tmp: Path, **changes: Any) -> WhatsAppOptions:
    base = WhatsAppOptions(
        access_token=fake.token,
        app_secrets=(fake.app_secret,),
        verify_token=fake.verify_token,
        public_url="https://handover.test/wa",
        media_dir=tmp / "media",
        tenants={TENANT: TenantNumber(fake.phone_number_id, "agent_reply", "nl")},
        graph_url=fake.url,
        api_version=VERSION,
        state_path=tmp / "whatsapp.db",
        request_timeout_seconds=0.5,
        reconcile_seconds=30.0,
    )
    return replace(base, **changes)


@dataclass
class Channel:
    adapter: WhatsAppChannel
    ctx: FakeContext
    fake: FakeGraph
    clock: FakeClock
    client: TestClient[Any, Any]

    async def conversation(self) -> Conversation:
        """The citizen's conversation (created by their first message)."""
        convs = list(self.ctx.conversations.values())
        assert len(convs) == 1, convs
        return convs[0]


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    server = FakeGraph(clock=FakeClock())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def channel_factory(
    fake: FakeGraph, aiohttp_client: ClientFactory, tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[Channel]]]:
    started: list[WhatsAppChannel] = []
    contexts: list[FakeContext] = []
    session = aiohttp.ClientSession()

    async def build(**changes: Any) -> Channel:
        assert isinstance(fake.clock, FakeClock)
        ctx = FakeContext("wa", clock=fake.clock, http=session)
        contexts.append(ctx)
        adapter = WhatsAppChannel("wa", options_for(fake, tmp_path, **changes), ctx)
        app = web.Application()
        app.add_subapp("/wa/", adapter.http_app())
        client = await aiohttp_client(app)
        fake.webhook_url = str(client.make_url("/wa/webhook"))
        await adapter.start()
        started.append(adapter)
        return Channel(adapter, ctx, fake, fake.clock, client)

    try:
        yield build
    finally:
        for adapter in started:
            await adapter.stop()
        for ctx in contexts:
            await ctx.aclose()
        await session.close()


@pytest.fixture
async def channel(channel_factory: Callable[..., Awaitable[Channel]]) -> Channel:
    return await channel_factory()
