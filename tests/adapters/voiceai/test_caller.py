"""The caller's number from the gateway's `start` event: kept as E.164 for a callback
request on the call, offered as the number to call back, never shown to the bot and
never logged; a withheld or unusable number is not kept."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from adapters.voiceai.caller import e164
from handover.daemon.app import Daemon
from handover.model import State
from handover.sdk.registration import CALLER_NUMBER_CONTEXT_KEY, AddressKind
from handover.sdk.testing import MemoryBot, MemoryRegistry
from tests.adapters.voiceai.conftest import BOT_TOKEN, CLOSED, Phone, scripted_bot, voice_config
from tests.fakes.voiceai_gateway import FakeGateway
from tests.harness import make_config


@pytest.mark.parametrize(("raw", "expected"), [
    ("+31612345678", "+31612345678"),
    ("0612345678", "+31612345678"),
    ("0031612345678", "+31612345678"),
    ("31612345678", "+31612345678"),  # a trunk that drops the plus
    ("sip:+31302860000@trunk.example.nl;user=phone", "+31302860000"),
    ("+32 470 12 34 56", "+32470123456"),  # a Belgian mobile
    ("anonymous", None),
    ("", None),
    ("1234", None),  # an extension
    ("kcc-agent", None),
    (None, None),
    (31612345678, None),  # not a string on the wire: not trusted
])
def test_only_a_valid_number_is_kept_in_e164(raw: Any, expected: str | None) -> None:
    assert e164(raw) == expected


async def test_the_callers_number_goes_into_the_context_not_to_the_bot_or_the_logs(
    phone: Phone,
) -> None:
    call = await phone.gateway.call()
    with capture_logs() as logs:
        await call.start(caller="06 12345678")
        answer = await call.say("hallo")
    assert answer.texts == ["U zei: hallo"]
    conv = await phone.conversation(call)
    assert conv.context[CALLER_NUMBER_CONTEXT_KEY] == "+31612345678"
    # Gem is shared by many municipalities: what it is shown has no number in it.
    assert phone.bot.turns and all("12345678" not in repr(t) for t in phone.bot.turns)
    assert "12345678" not in repr(logs)


async def test_a_withheld_number_is_not_kept(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start(caller="anonymous")
    await call.say("hallo")
    conv = await phone.conversation(call)
    assert CALLER_NUMBER_CONTEXT_KEY not in conv.context


def _callback_config() -> dict[str, Any]:
    doc = voice_config()
    doc["adapters"]["kcc-register"] = {"type": "memory_registry"}
    doc["tenants"][CLOSED].update(registries=["kcc-register"], callback={"enabled": True})
    return doc


async def test_a_callback_request_on_a_call_offers_the_callers_number(tmp_path: Path) -> None:
    daemon = Daemon(make_config(tmp_path, _callback_config()))
    server = TestServer(daemon.build_app())
    await server.start_server()
    try:
        cast(MemoryBot, daemon.adapters["bot"]).responder = scripted_bot
        async with aiohttp.ClientSession() as session:
            gateway = FakeGateway(session, server.make_url(f"/phone/bots/{CLOSED}"), BOT_TOKEN)
            call = await gateway.call()
            await call.start(caller="0687654321")
            offer = await call.say("medewerker")
            assert "contact met u opneemt" in " ".join(offer.texts)
            asked = await call.say("ja")
            assert "dat eindigt op 21" in " ".join(asked.texts)
            await call.say("ja")  # that number
            await call.say("Jan")  # the name
            done = await call.say("Mijn vraag gaat over afval")
            assert "Uw verzoek is bewaard" in " ".join(done.texts)
            registry = cast(MemoryRegistry, daemon.adapters["kcc-register"])
            for _ in range(200):
                if registry.callbacks:
                    break
                await asyncio.sleep(0.02)
            [request] = registry.callbacks.values()
            assert (request.address_kind, request.address) == (
                AddressKind.PHONE, "+31687654321")
            assert request.channel_type == "voiceai"
            cid = call.urls["activitiesURL"].parts[-2]
            conv = await daemon.store.get_conversation(cid)
            assert conv is not None and conv.state is State.BOT
    finally:
        await server.close()
