"""A daemon with the VoiceAI Connect channel on a loopback port, the memory bot and desk,
and the fake gateway that calls it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.voiceai.adapter import VoiceAiChannel
from handover.daemon.app import Daemon
from handover.model import Button, Content, Conversation, HandoverSignal
from handover.sdk.contracts import BotResponse, BotTurn
from handover.sdk.testing import MemoryBot, MemoryDesk
from tests.fakes.voiceai_gateway import FakeCall, FakeGateway
from tests.harness import TENANT, make_config

BOT_TOKEN = "gateway-token-0123456789"
TRANSCRIPT_TOKEN = "kcc-token-0123456789"
REF_SECRET = "reference-secret-0123456789"
CLOSED = "closed"
TARGET = "tel:+31302860000"
BUDGET = 3.0


def voice_config(**options: Any) -> dict[str, Any]:
    phone = {
        "type": "voiceai",
        "bot_token": "${VOICE_BOT_TOKEN}",
        "transcript_token": "${VOICE_TRANSCRIPT_TOKEN}",
        "reference_secret": "${VOICE_REF_SECRET}",
        "response_budget_seconds": BUDGET,
        "tenants": {TENANT: {"transfer_target": TARGET},
                    CLOSED: {"transfer_target": "sip:kcc@pbx.example.nl"}},
        **options,
    }
    return {
        "adapters": {"phone": phone},
        "tenants": {
            TENANT: {"channels": ["phone"], "handover": {"check_availability": True}},
            CLOSED: {
                "name": "Gemeente Dicht", "channels": ["phone"], "bot": "bot", "desk": "desk",
                "handover": {"phone": "14 099"},
                # No open interval on any day: always outside opening hours.
                "hours": {"timezone": "Europe/Amsterdam", "holidays": ""},
            },
        },
    }


async def scripted_bot(conversation: Conversation, turn: BotTurn) -> BotResponse:
    """Gem as far as these calls need it."""
    said = (turn.payload or turn.text).strip().lower()
    if said == "/greet":
        return BotResponse((Content("Welkom bij de gemeente. Waarmee kan ik u helpen?"),))
    if said == "menu":
        return BotResponse((Content("Waar gaat uw vraag over?", buttons=(
            Button("Afval", "/afval"), Button("Paspoort", "/paspoort"))),))
    if said == "/afval":
        return BotResponse((Content("De container wordt dinsdag geleegd."),))
    if said == "/paspoort":
        return BotResponse((Content("Een paspoort vraagt u aan op afspraak."),))
    if said == "medewerker":
        return BotResponse((Content("Ik verbind u door."),),
                           HandoverSignal(reason="citizen_request", topic="afval"))
    if said == "traag":
        await asyncio.sleep(BUDGET + 1.0)
        return BotResponse((Content("Sorry voor het wachten: hier is het antwoord."),))
    if said == "twee berichten":
        return BotResponse((Content("Eerste deel."), Content("Tweede deel.")))
    return BotResponse((Content(f"U zei: {turn.text}"),))


@dataclass
class Phone:
    daemon: Daemon
    server: TestServer
    session: aiohttp.ClientSession
    gateway: FakeGateway

    @property
    def channel(self) -> VoiceAiChannel:
        return cast(VoiceAiChannel, self.daemon.adapters["phone"])

    @property
    def bot(self) -> MemoryBot:
        return cast(MemoryBot, self.daemon.adapters["bot"])

    @property
    def desk(self) -> MemoryDesk:
        return cast(MemoryDesk, self.daemon.adapters["desk"])

    def url(self, path: str) -> Any:
        return self.server.make_url(path)

    def gateway_for(self, tenant: str, token: str = BOT_TOKEN) -> FakeGateway:
        return FakeGateway(self.session, self.url(f"/phone/bots/{tenant}"), token)

    async def conversation(self, call: FakeCall) -> Conversation:
        """The daemon's conversation behind a call (its id is in the call's URLs)."""
        cid = call.urls["activitiesURL"].parts[-2]
        conv = await self.daemon.store.get_conversation(cid)
        assert conv is not None
        return conv

    async def until_said(self, call: FakeCall, text: str) -> None:
        """Wait until the daemon has recorded `text` for the call (said, not yet heard)."""
        conv = await self.conversation(call)
        for _ in range(500):
            entries = await self.daemon.store.transcript(conv.id)
            if any(text in e.content.text for e in entries):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"never said: {text}")


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("VOICE_TRANSCRIPT_TOKEN", TRANSCRIPT_TOKEN)
    monkeypatch.setenv("VOICE_REF_SECRET", REF_SECRET)


@pytest.fixture
async def phone(tmp_path: Path) -> AsyncIterator[Phone]:
    daemon = Daemon(make_config(tmp_path, voice_config()))
    server = TestServer(daemon.build_app())
    await server.start_server()
    try:
        cast(MemoryBot, daemon.adapters["bot"]).responder = scripted_bot
        async with aiohttp.ClientSession() as session:
            gateway = FakeGateway(session, server.make_url(f"/phone/bots/{TENANT}"), BOT_TOKEN)
            yield Phone(daemon, server, session, gateway)
    finally:
        await server.close()
