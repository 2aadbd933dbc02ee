"""A call through the fake gateway to Gem on (fake) Rasa: the real Rasa adapter, its
buttons read out and keyed in, and its handover payload turned into a transfer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from handover.daemon.app import Daemon
from handover.model import State
from tests.adapters.voiceai.conftest import BOT_TOKEN, TARGET, voice_config
from tests.fakes.rasa_server import FakeRasa, Messages
from tests.fakes.voiceai_gateway import FakeGateway
from tests.harness import TENANT, make_config, merge


async def gem(sender: str, message: str, metadata: Mapping[str, Any]) -> Messages:
    if message == "/greet":
        return [{"recipient_id": sender, "text": "Welkom. Waar gaat uw vraag over?",
                 "buttons": [{"title": "Afval", "payload": "/afval"},
                             {"title": "Iets anders", "payload": "/medewerker"}]}]
    if message == "/medewerker":
        return [{"recipient_id": sender, "text": "Dan verbind ik u door."},
                {"recipient_id": sender, "custom": {"handover": {"reason": "bot", "topic": "x"}}}]
    return [{"recipient_id": sender, "text": f"Gem: {message}"}]


async def test_a_call_with_gem_on_rasa_ends_in_a_transfer(tmp_path: Path) -> None:
    fake = await FakeRasa().start()
    fake.responder = gem
    config = merge(voice_config(), {"adapters": {"bot": {"type": "rasa", "url": fake.url}}})
    daemon = Daemon(make_config(tmp_path, config))
    server = TestServer(daemon.build_app())
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            gateway = FakeGateway(session, server.make_url(f"/phone/bots/{TENANT}"), BOT_TOKEN)
            call = await gateway.call()
            start = await call.start()
            (greeting,) = start.texts
            assert "1. Afval" in greeting and "2. Iets anders" in greeting
            answer = await call.dtmf("2")
            assert answer.texts[0] == "Dan verbind ik u door."
            transfer = answer.event("transfer")
            assert transfer is not None
            assert transfer["activityParams"]["transferTarget"] == TARGET
            cid = call.urls["activitiesURL"].parts[-2]
            conv = await daemon.store.get_conversation(cid)
            assert conv is not None and conv.state is State.TRANSFER
            # Rasa heard the greeting payload and the keyed-in choice's payload.
            said = [r.message for r in fake.received]
            assert said == ["/greet", "/medewerker"]
    finally:
        await server.close()
        await fake.stop()
