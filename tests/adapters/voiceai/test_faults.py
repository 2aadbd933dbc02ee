"""What a gateway gets wrong, and what goes wrong around a call: wrong tokens, malformed
bodies, retried and duplicated activities, a hang-up during the transfer, a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.voiceai.reference import make_reference
from handover.daemon.app import Daemon
from handover.model import Party, State
from handover.sdk.testing import MemoryBot
from tests.adapters.voiceai.conftest import (
    BOT_TOKEN,
    REF_SECRET,
    TRANSCRIPT_TOKEN,
    Phone,
    scripted_bot,
    voice_config,
)
from tests.fakes.voiceai_gateway import FakeGateway
from tests.harness import TENANT, make_config


async def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(phone: Phone) -> None:
    assert await phone.gateway.health(token="wrong") == 401
    intruder = phone.gateway_for(TENANT, token="not-the-token")
    call = await phone.gateway.call()
    await call.start()
    turns = len(phone.bot.turns)
    answer = await intruder.post(call.urls["activitiesURL"], {
        "conversation": call.conversation,
        "activities": [{"id": "x1", "type": "message", "text": "hallo"}],
    })
    assert answer.status == 401 and answer.body["error"] == "unauthorized"
    async with phone.session.post(call.urls["activitiesURL"], json={}) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(phone.bot.turns) == turns


async def test_malformed_bodies_get_a_clear_error_and_lose_nothing(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    url = call.urls["activitiesURL"]
    broken = await phone.gateway.post(url, None, raw=b'{"conversation": "x", "activities": [')
    assert broken.status == 400 and broken.body["error"] == "invalid_json"
    for deep in (b"[" * 30_000 + b"]" * 30_000,
                 b'{"conversation": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_001):
        nested = await phone.gateway.post(url, None, raw=deep)
        assert 400 <= nested.status < 500
    no_list = await phone.gateway.post(url, {"conversation": call.conversation, "activities": {}})
    assert no_list.status == 400 and "activities" in no_list.body["detail"]
    # One bad activity refuses the whole request before any of it is applied.
    mixed = await phone.gateway.post(url, {"conversation": call.conversation, "activities": [
        {"id": "ok1", "type": "message", "text": "eerst dit"},
        {"id": "bad", "type": "event", "name": "DTMF", "value": "12x"},
    ]})
    assert mixed.status == 400 and "DTMF" in mixed.body["detail"]
    conv = await phone.conversation(call)
    texts = [e.content.text for e in await phone.daemon.store.transcript(conv.id)]
    assert "eerst dit" not in texts
    # Another call's conversation id does not open this call.
    wrong = await phone.gateway.post(url, {"conversation": "someone-else", "activities": []})
    assert wrong.status == 404
    # The call still works.
    assert (await call.say("hallo")).texts == ["U zei: hallo"]


async def test_a_retried_post_gets_the_same_answer_and_the_bot_one_turn(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    first = await call.say("Is het stadhuis open?")
    turns = len(phone.bot.turns)
    again = await call.resend()
    assert again.texts == first.texts == ["U zei: Is het stadhuis open?"]
    assert len(phone.bot.turns) == turns
    conv = await phone.conversation(call)
    entries = await phone.daemon.store.transcript(conv.id)
    said = [e for e in entries if e.party is Party.CITIZEN and e.content.text]
    assert len(said) == 1


async def test_a_duplicate_activity_in_a_later_post_is_applied_once(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    activity = {"id": "dup-1", "type": "message", "text": "een keer"}
    await call.send(activity)
    turns = len(phone.bot.turns)
    later = await call.send(activity, {"id": "new-1", "type": "message", "text": "nog iets"})
    assert later.texts == ["U zei: nog iets"]
    assert [t.text for t in phone.bot.turns[turns:]] == ["nog iets"]


async def test_the_caller_hanging_up_during_the_transfer_closes_the_call(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    await call.say("medewerker")
    assert (await call.hang_up("Client Side")).status == 200
    conv = await phone.conversation(call)
    assert conv.state is State.CLOSED
    assert conv.context["outcome"] == "transfer_unconfirmed"
    # Later requests for the ended call are still answered (the gateway may be late).
    assert (await call.refresh()).status == 200


async def test_refresh_keeps_the_call_alive(phone: Phone) -> None:
    call = await phone.gateway.call()
    answer = await call.refresh()
    assert answer.status == 200 and answer.body == {"expiresSeconds": 120}


async def test_unknown_tenant_and_unknown_call_are_not_found(phone: Phone) -> None:
    assert await phone.gateway_for("nowhere").health() == 404
    call = await phone.gateway.call()
    other = call.urls["activitiesURL"].with_path(
        call.urls["activitiesURL"].path.replace(call.urls["activitiesURL"].parts[-2], "f" * 32))
    missing = await phone.gateway.post(other, {"conversation": call.conversation,
                                               "activities": []})
    assert missing.status == 404


async def test_the_transcript_needs_its_token_and_a_genuine_reference(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    answer = await call.say("medewerker")
    assert answer.event("transfer") is not None
    conv = await phone.conversation(call)
    expires = time.time() + 60
    good = make_reference(REF_SECRET, conv.id, conv.handover_no, expires)

    async def fetch(reference: str, token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with phone.session.get(phone.url(f"/phone/transcripts/{reference}"),
                                     headers=headers) as resp:
            return resp.status

    assert await fetch(good, TRANSCRIPT_TOKEN) == 200
    assert await fetch(good, None) == 401
    assert await fetch(good, BOT_TOKEN) == 401  # the gateway's token does not open it
    forged = make_reference("another-secret-of-enough-length", conv.id, conv.handover_no,
                            expires)
    assert await fetch(forged, TRANSCRIPT_TOKEN) == 404
    assert await fetch(conv.id, TRANSCRIPT_TOKEN) == 404  # the bare id is not a reference
    expired = make_reference(REF_SECRET, conv.id, conv.handover_no, time.time() - 1)
    assert await fetch(expired, TRANSCRIPT_TOKEN) == 404


async def test_goodbye_after_a_failed_transfer_when_configured(tmp_path: Path) -> None:
    tmp = tmp_path
    daemon = Daemon(make_config(tmp, voice_config(transfer_failure="goodbye")))
    server = TestServer(daemon.build_app())
    await server.start_server()
    try:
        daemon.adapters["bot"].responder = scripted_bot  # type: ignore[attr-defined]
        async with aiohttp.ClientSession() as session:
            gateway = FakeGateway(session, server.make_url(f"/phone/bots/{TENANT}"), BOT_TOKEN)
            call = await gateway.call()
            await call.start()
            await call.say("medewerker")
            bye = await call.transfer_status("failed", "no answer")
            assert bye.texts and "Tot ziens" in bye.texts[0]
            assert bye.activities[-1]["name"] == "hangup"
    finally:
        await server.close()


async def test_an_answer_held_at_a_restart_is_spoken_on_the_next_turn(tmp_path: Path) -> None:
    """The daemon stops after the bot answered but before the gateway heard it: the
    answer is in the transcript, and the next request after the restart speaks it."""
    tmp = tmp_path
    config = make_config(tmp, voice_config())
    first = Daemon(config)
    server = TestServer(first.build_app())
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        bot = first.adapters["bot"]
        assert isinstance(bot, MemoryBot)
        bot.responder = scripted_bot
        gateway = FakeGateway(session, server.make_url(f"/phone/bots/{TENANT}"), BOT_TOKEN)
        call = await gateway.call()
        await call.start()
        slow = await call.say("traag")
        assert slow.texts == ["Een ogenblik alstublieft."]
        cid = call.urls["activitiesURL"].parts[-2]
        for _ in range(300):  # the bot's answer is committed meanwhile
            entries = await first.store.transcript(cid)
            if any("hier is het antwoord" in e.content.text for e in entries):
                break
            await asyncio.sleep(0.02)
        port = server.port
        await server.close()

        second = Daemon(make_config(tmp, voice_config()))
        server2 = TestServer(second.build_app(), port=port)
        await server2.start_server()
        try:
            held = await call.silence()
            assert held.texts == ["Sorry voor het wachten: hier is het antwoord."]
        finally:
            await server2.close()
