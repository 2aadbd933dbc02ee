"""Whole calls through the fake VoiceAI Connect gateway against the running daemon."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

import aiohttp
from aiohttp.test_utils import TestServer

from handover.daemon.app import Daemon
from handover.model import Party, State
from handover.sdk.registration import CALLER_NUMBER_CONTEXT_KEY
from tests.adapters.voiceai.conftest import (
    BOT_TOKEN,
    BUDGET,
    CLOSED,
    TARGET,
    TRANSCRIPT_TOKEN,
    Phone,
    voice_config,
)
from tests.fakes.voiceai_gateway import FakeGateway
from tests.harness import make_config

GREETING = "Welkom bij de gemeente. Waarmee kan ik u helpen?"


async def test_a_call_starts_with_settings_and_the_bots_greeting(phone: Phone) -> None:
    assert await phone.gateway.health() == 200
    call = await phone.gateway.call()
    assert call.expires_seconds == 120
    answer = await call.start()
    assert answer.status == 200
    config = answer.event("config")
    assert config is not None
    assert config["sessionParams"]["userNoInputTimeoutMS"] == 8000
    assert config["sessionParams"]["sendEventsToBot"] == ["noUserInput"]
    assert config["sessionParams"]["dtmfCollect"] is True
    assert answer.texts == [GREETING]
    # The caller's number is kept only where a callback request looks for it (see
    # test_caller.py): the bot is not shown it, nor is anything else of the start event.
    conv = await phone.conversation(call)
    rest = {k: v for k, v in conv.context.items() if k != CALLER_NUMBER_CONTEXT_KEY}
    assert "612345678" not in repr(rest) and "X-Call-Id" not in repr(conv)
    assert all("612345678" not in repr(turn) for turn in phone.bot.turns)


async def _created(phone: Phone) -> dict[str, str]:
    async with phone.session.post(
        phone.url("/phone/bots/test"), json={"conversation": uuid.uuid4().hex},
        headers={"Authorization": f"Bearer {BOT_TOKEN}"},
    ) as resp:
        assert resp.status == 200
        body: dict[str, str] = await resp.json()
    return body


async def test_the_call_urls_are_root_relative_or_absolute_never_relative(
    phone: Phone,
) -> None:
    """A gateway that joins URLs by concatenation must not get a 404: without a public
    URL they start at the root (with the channel's mount prefix), with one they are
    absolute, as AudioCodes' own bot connectors answer."""
    body = await _created(phone)
    cid = body["activitiesURL"].split("/")[-2]
    for key, last in (("activitiesURL", "activities"), ("refreshURL", "refresh"),
                      ("disconnectURL", "disconnect")):
        assert body[key] == f"/phone/bots/test/calls/{cid}/{last}"


async def test_with_a_public_url_the_call_urls_are_absolute(tmp_path: Path) -> None:
    config = voice_config()
    config["server"] = {"public_url": "https://chat.example.nl/handover/"}
    daemon = Daemon(make_config(tmp_path, config))
    server = TestServer(daemon.build_app())
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            phone = Phone(daemon, server, session, FakeGateway(session, server.make_url(
                "/phone/bots/test"), BOT_TOKEN))
            body = await _created(phone)
    finally:
        await server.close()
    cid = body["refreshURL"].split("/")[-2]
    assert body["activitiesURL"] == (
        f"https://chat.example.nl/handover/phone/bots/test/calls/{cid}/activities")
    assert body["disconnectURL"] == (
        f"https://chat.example.nl/handover/phone/bots/test/calls/{cid}/disconnect")


async def test_turns_are_relayed_to_the_bot_and_its_answer_spoken(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    answer = await call.say("Wanneer wordt het afval opgehaald?")
    assert answer.texts == ["U zei: Wanneer wordt het afval opgehaald?"]
    assert phone.bot.turns[-1].text == "Wanneer wordt het afval opgehaald?"
    two = await call.say("twee berichten")
    assert two.texts == ["Eerste deel.", "Tweede deel."]
    assert answer.seconds < BUDGET


async def test_buttons_are_read_as_numbered_options_said_or_keyed(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    menu = await call.say("menu")
    (spoken,) = menu.texts
    assert "1. Afval" in spoken and "2. Paspoort" in spoken
    assert "toets" in spoken  # the caller is told they may key the number in
    keyed = await call.dtmf("1")
    assert keyed.texts == ["De container wordt dinsdag geleegd."]
    assert phone.bot.turns[-1].payload == "/afval"
    await call.say("menu")
    said = await call.say("optie twee")
    assert said.texts == ["Een paspoort vraagt u aan op afspraak."]
    assert phone.bot.turns[-1].payload == "/paspoort"
    # Without options on offer, a number word is just what the caller said.
    plain = await call.say("twee")
    assert plain.texts == ["U zei: twee"]


async def test_silence_repeats_the_question_and_too_many_end_the_call(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    await call.say("menu")
    first = await call.silence()
    assert first.texts and "1. Afval" in first.texts[0]
    await call.silence(2)
    last = await call.silence(3)
    assert last.event("hangup") is not None
    conv = await phone.conversation(call)
    assert conv.state is State.CLOSED


async def test_handover_transfers_the_call_with_a_reference_to_the_transcript(
    phone: Phone,
) -> None:
    call = await phone.gateway.call()
    await call.start()
    await call.say("Mijn container is niet geleegd")
    answer = await call.say("medewerker")
    assert answer.texts[0] == "Ik verbind u door."
    assert "verbind u door met een medewerker" in answer.texts[1]
    transfer = answer.event("transfer")
    assert transfer is not None and answer.activities[-1] is transfer
    params = transfer["activityParams"]
    assert params["transferTarget"] == TARGET
    (header,) = params["transferSipHeaders"]
    assert header["name"] == "X-Handover-Reference"
    reference = header["value"]
    conv = await phone.conversation(call)
    assert conv.state is State.TRANSFER
    # No desk thread: the call goes to the phone queue, not to the chat desk.
    assert phone.desk.threads == {} and phone.desk.checks == 0

    # The contact centre's system fetches the transcript with the reference.
    async with phone.session.get(
        phone.url(f"/phone/transcripts/{reference}"),
        headers={"Authorization": f"Bearer {TRANSCRIPT_TOKEN}"},
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    said = [(e["party"], e["text"]) for e in body["entries"]]
    assert ("citizen", "Mijn container is niet geleegd") in said
    assert ("bot", "Ik verbind u door.") in said
    assert body["tenant"] == "test" and body["handover_no"] == 1

    # The reference stops working after `reference_ttl_seconds` (a day by default).
    later = phone.daemon.clock.now() + timedelta(days=1, seconds=1)
    with patch.object(phone.daemon.clock, "now", return_value=later):
        async with phone.session.get(
            phone.url(f"/phone/transcripts/{reference}"),
            headers={"Authorization": f"Bearer {TRANSCRIPT_TOKEN}"},
        ) as resp:
            assert resp.status == 404

    status = await call.transfer_status("answered")
    assert status.status == 200 and status.activities == []
    conv = await phone.conversation(call)
    assert conv.state is State.CLOSED and conv.context["outcome"] == "transferred"
    assert (await call.hang_up()).status == 200


async def test_a_failed_transfer_returns_to_the_bot_with_an_apology(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    await call.say("medewerker")
    failed = await call.transfer_status("failed", "busy")
    assert len(failed.texts) == 1 and failed.texts[0].startswith("Sorry, doorverbinden")
    assert (await phone.conversation(call)).state is State.BOT
    again = await call.say("Hoe laat is het stadhuis open?")
    assert again.texts == ["U zei: Hoe laat is het stadhuis open?"]


async def test_outside_opening_hours_the_caller_hears_the_hours(phone: Phone) -> None:
    call = await phone.gateway_for(CLOSED).call()
    await call.start()
    answer = await call.say("medewerker")
    assert answer.event("transfer") is None
    spoken = " ".join(answer.texts)
    assert "niet bereikbaar" in spoken and "14 099" in spoken
    assert (await phone.conversation(call)).state is State.BOT


async def test_a_slow_bot_gets_a_filler_in_time_and_its_answer_comes_next(phone: Phone) -> None:
    call = await phone.gateway.call()
    await call.start()
    slow = await call.say("traag")
    assert slow.texts == ["Een ogenblik alstublieft."]
    assert slow.seconds < BUDGET + 0.5
    await phone.until_said(call, "hier is het antwoord")  # the bot answers meanwhile
    # The gateway's next request (here: after a silence) carries the held answer.
    held = await call.silence()
    assert held.texts == ["Sorry voor het wachten: hier is het antwoord."]
    after = await call.say("hallo")
    assert after.texts == ["U zei: hallo"]


async def test_a_second_call_from_the_same_caller_is_a_new_conversation(phone: Phone) -> None:
    first = await phone.gateway.call()
    await first.start()
    await first.say("eerste gesprek")
    await first.hang_up()
    second = await phone.gateway.call()
    answer = await second.start()
    assert answer.texts == [GREETING]
    one, two = await phone.conversation(first), await phone.conversation(second)
    assert one.id != two.id
    assert one.state is State.CLOSED and two.state is State.BOT
    entries = await phone.daemon.store.transcript(two.id)
    assert all("eerste" not in e.content.text for e in entries if e.party is Party.CITIZEN)
