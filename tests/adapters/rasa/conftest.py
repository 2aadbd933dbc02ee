"""Fixtures for the Rasa adapter: the fake Rasa server and an adapter wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.rasa.adapter import RasaBot
from handover.model import Conversation
from handover.sdk.contracts import BotResponse, BotTurn
from tests.adapters.conftest import FakeContext
from tests.fakes.rasa_server import FakeRasa

NAME = "gem"
CALLBACK_TOKEN = "cb-secret-0123456789"


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    fake = await FakeRasa().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Harness:
    """A RasaBot on a fake core, talking to the fake Rasa; its callback route served."""

    def __init__(self, fake: FakeRasa, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.ctx = FakeContext(NAME, tenants=("demo", "other"), http=session)
        self.bot: RasaBot | None = None
        self._runner: web.AppRunner | None = None
        self.callback_base = ""

    async def make(self, **section: Any) -> RasaBot:
        config = RasaBot.parse_config({"url": self.fake.url, **section}, f"adapters.{NAME}")
        self.bot = RasaBot(NAME, config, self.ctx)
        sub = self.bot.http_app()
        if sub is not None:
            app = web.Application()
            app.add_subapp(f"/{NAME}/", sub)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.callback_base = f"http://127.0.0.1:{port}/{NAME}/callback?token="
            self.fake.callback_url = self.callback_base + CALLBACK_TOKEN
        await self.bot.start()
        return self.bot

    def conversation(self, tenant: str = "demo", **kw: Any) -> Conversation:
        return self.ctx.add_conversation(tenant=tenant, channel="chat", **kw)

    async def turn(
        self, conv: Conversation, text: str, payload: str | None = None,
        message_id: str = "m-1", metadata: Mapping[str, Any] | None = None,
    ) -> BotResponse:
        assert self.bot is not None
        # What the core would pass: read the conversation as stored (its epoch).
        current = self.ctx.conversations[conv.id]
        turn = BotTurn(message_id=message_id, text=text, payload=payload, language="nl",
                       metadata=dict(metadata or {"tenant": conv.tenant, "channel": "chat",
                                                  "language": "nl"}))
        return await self.bot.turn(current, turn)

    async def close(self) -> None:
        await self.ctx.aclose()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def rasa(fake_rasa: FakeRasa, session: aiohttp.ClientSession) -> AsyncIterator[Harness]:
    h = Harness(fake_rasa, session)
    try:
        yield h
    finally:
        await h.close()


def counter(metric: Any, **labels: str) -> float:
    """The current value of a labelled counter (0 when never incremented)."""
    value: float = metric.labels(**labels)._value.get()
    return value


MakeHarness = Callable[..., Harness]
