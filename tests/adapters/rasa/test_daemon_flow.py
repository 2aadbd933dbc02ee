"""The Rasa adapter inside a running daemon (real SQLite, real workers, memory channel
and desk) against the fake Rasa: the same scenario as the demo bot, the bot-failure
policies, late answers after a handover, consent and enrichment at the desk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.demo_bot.adapter import DemoBot, DemoBotOptions
from adapters.rasa.routes import CALLBACKS
from adapters.rasa.wire import to_rasa_messages
from handover.model import Conversation, Party, State, thread_id
from handover.sdk.contracts import BotTurn
from tests.adapters.conftest import FakeContext
from tests.adapters.rasa.conftest import CALLBACK_TOKEN, counter
from tests.fakes.rasa_server import FakeRasa, Messages
from tests.harness import TENANT, Running, running

NO_SURVEY = {"tenants": {TENANT: {"survey": {"enabled": False}}}}


def demo_like(fake: FakeRasa) -> None:
    """Script the fake Rasa to answer exactly like the demo bot (as Rasa messages)."""
    demo = DemoBot("script", DemoBotOptions(), FakeContext("script"))

    async def respond(sender: str, message: str, metadata: Mapping[str, Any]) -> Messages:
        language = str(metadata.get("language", "nl"))
        conv = Conversation(id=sender, tenant=TENANT, channel="chat", channel_key=sender,
                            language=language)
        payload = message if message.startswith("/") else None
        answer = await demo.turn(conv, BotTurn("x", message, payload, language))
        return to_rasa_messages(sender, answer)

    fake.responder = respond


@asynccontextmanager
async def daemon_with_rasa(
    tmp: Path, fake: FakeRasa, extra: Mapping[str, Any] | None = None, **bot: Any
) -> AsyncIterator[Running]:
    from tests.harness import merge

    config = merge({"adapters": {"bot": {"type": "rasa", "url": fake.url, **bot}}}, extra or {})
    async with running(tmp, config) as r:
        yield r


async def serve_callback_route(r: Running, fake: FakeRasa) -> web.AppRunner:
    """Mount the adapter's routes at /bot/ as the daemon does, on port 0."""
    sub = r.daemon.adapters["bot"].http_app()
    assert sub is not None
    app = web.Application()
    app.add_subapp("/bot/", sub)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.callback_url = f"http://127.0.0.1:{runner.addresses[0][1]}/bot/callback?token={CALLBACK_TOKEN}"
    return runner


def spy_on_turns(r: Running) -> list[tuple[str, str | None]]:
    """What the bot adapter was asked, whichever bot it is."""
    heard: list[tuple[str, str | None]] = []
    adapter = r.daemon.adapters["bot"]
    original = adapter.turn  # type: ignore[attr-defined]

    async def turn(conversation: Conversation, turn: BotTurn) -> Any:
        heard.append((turn.text, turn.payload))
        return await original(conversation, turn)

    adapter.turn = turn  # type: ignore[attr-defined]
    return heard


def bot_texts(r: Running, conv: Conversation) -> list[str]:
    return [m.content.text for m in r.chat.shown[conv.id] if m.party is Party.BOT]


async def stored(r: Running, conv: Conversation) -> Conversation:
    found = await r.daemon.store.get_conversation(conv.id)
    assert found is not None
    return found


# --- the same scenario against the demo bot and the Rasa adapter ----------------------


@asynccontextmanager
async def with_bot(kind: str, tmp: Path, fake: FakeRasa) -> AsyncIterator[Running]:
    if kind == "demo_bot":
        async with running(tmp, {**NO_SURVEY, "adapters": {"bot": {"type": "demo_bot"}}}) as r:
            yield r
    else:
        demo_like(fake)
        fake.intent_answers["livechat_ended"] = [{"text": "Welkom terug bij Gem."}]
        async with daemon_with_rasa(tmp, fake, NO_SURVEY, api=True, handback="intent") as r:
            yield r


@pytest.mark.parametrize("kind", ["demo_bot", "rasa"])
async def test_same_scenario_for_demo_bot_and_rasa(
    kind: str, tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    async with with_bot(kind, tmp_path, fake_rasa) as r:
        heard = spy_on_turns(r)
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "Wanneer wordt het afval opgehaald?")
        await r.chat.wait_for(conv.id, lambda m: any(x.party is Party.BOT for x in m))
        (answer,) = [m for m in r.chat.shown[conv.id] if m.party is Party.BOT]
        assert "afvalkalender" in answer.content.text
        assert [b.payload for b in answer.content.buttons] == ["/handover"]

        # The citizen presses "Medewerker spreken": the bot signals the handover.
        await r.chat.say(conv.id, "Medewerker spreken", payload="/handover")
        first = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: first in r.desk.threads)
        opened = r.desk.threads[first]
        assert opened.signal.topic == "waste" and opened.signal.consent is True
        said = [(e.party, e.content.text) for e in opened.transcript]
        assert said[0] == (Party.CITIZEN, "Wanneer wordt het afval opgehaald?")
        assert said[1][0] is Party.BOT and "afvalkalender" in said[1][1]

        # The human stretch.
        await r.desk.join(first, "Sanne")
        await r.desk.reply(first, "Goedemiddag, waar gaat het om?")
        await r.chat.say(conv.id, "Mijn container is niet geleegd")
        await r.desk.wait_for(lambda: len(r.desk.received[first]) == 1)
        await r.desk.close(first, "solved")
        await r.settle()
        assert (await stored(r, conv)).state is State.BOT

        # Back with the bot: it never hears what was said to the agent.
        await r.chat.say(conv.id, "Hoe zit het met parkeren?")
        await r.settle()
        assert "parkeervergunning" in bot_texts(r, conv)[-1]
        await r.chat.say(conv.id, "Ik wil een medewerker spreken")
        second = thread_id(conv.id, 2)
        await r.desk.wait_for(lambda: second in r.desk.threads)
        assert r.desk.threads[second].signal.topic == "parking"
        assert heard == [
            ("Wanneer wordt het afval opgehaald?", None),
            ("Medewerker spreken", "/handover"),
            ("Hoe zit het met parkeren?", None),
            ("Ik wil een medewerker spreken", None),
        ]
        if kind == "rasa":
            assert "Mijn container is niet geleegd" not in fake_rasa.messages_from(conv.id)
            assert fake_rasa.intents_triggered == [(conv.id, "livechat_ended",
                                                    {"outcome": "solved"})]
            # What the bot said on getting the conversation back reached the citizen.
            assert "Welkom terug bij Gem." in bot_texts(r, conv)


# --- bot-failure policies -------------------------------------------------------------


async def test_escalate_policy_hands_over_once_then_the_loop_guard_apologises(
    tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    policy = {"tenants": {TENANT: {"survey": {"enabled": False}, "handover": {
        "bot_failure": "escalate", "max_bot_escalations": 1}}}}
    async with daemon_with_rasa(tmp_path, fake_rasa, policy) as r:
        conv = await r.chat.open(TENANT)
        fake_rasa.fail_next(500)
        await r.chat.say(conv.id, "Hallo")
        first = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: first in r.desk.threads)
        assert r.desk.threads[first].signal.reason == "bot_failure"
        assert len(fake_rasa.received) == 1  # the turn was never resent
        dead = await r.daemon.store.dead_letters()
        assert [(d.kind, d.reason.split(":")[0]) for d in dead] == [("bot.turn", "ambiguous")]

        await r.desk.close(first, "solved")
        await r.settle()
        fake_rasa.empty_next()  # Rasa's internal timeout this time
        await r.chat.say(conv.id, "Nog een vraag")
        await r.settle()
        assert thread_id(conv.id, 2) not in r.desk.threads
        assert r.chat.texts(conv.id)[-1].startswith("Sorry, de digitale assistent")
        assert len(fake_rasa.received) == 2


@pytest.mark.parametrize("fault", ["http_500", "slow", "empty", "dropped"])
async def test_apologise_policy_keeps_trying_the_bot(
    tmp_path: Path, fake_rasa: FakeRasa, fault: str
) -> None:
    async with daemon_with_rasa(tmp_path, fake_rasa, NO_SURVEY, turn_timeout_seconds=0.3) as r:
        conv = await r.chat.open(TENANT)
        if fault == "http_500":
            fake_rasa.fail_next(500)
        elif fault == "slow":
            fake_rasa.delay_next(0.6)
        elif fault == "empty":
            fake_rasa.empty_next()
        else:
            fake_rasa.drop_next()
        await r.chat.say(conv.id, "Hallo")
        await r.settle()
        assert r.chat.texts(conv.id)[-1].startswith("Sorry, de digitale assistent")
        await r.chat.say(conv.id, "Nog een keer")
        await r.settle()
        assert r.chat.texts(conv.id)[-1] == "gem: Nog een keer"
        # Each turn reached Rasa once: the failed one was never resent.
        assert fake_rasa.messages_from(conv.id) == ["Hallo", "Nog een keer"]
        assert not any(m.party is Party.BOT and "Hallo" in m.content.text
                       for m in r.chat.shown[conv.id])


async def test_unreachable_rasa_is_retried_then_the_policy_applies(
    tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    extra = {**NO_SURVEY, "delivery": {"max_age_seconds": {"bot.turn": "1s"}}}
    await fake_rasa.stop()  # nothing listens on its port any more
    async with daemon_with_rasa(tmp_path, fake_rasa, extra, connect_timeout_seconds=0.5) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "Hallo")
        await r.chat.wait_for(conv.id, lambda m: bool(m), timeout=8)
        assert r.chat.texts(conv.id)[-1].startswith("Sorry, de digitale assistent")
        # The core is told first and the item dead-lettered after; the apology can
        # reach the citizen in between.
        for _ in range(100):
            dead = await r.daemon.store.dead_letters()
            if dead:
                break
            await asyncio.sleep(0.05)
        assert [d.reason for d in dead] == ["expired"]


# --- callback channel: answers after a handover ---------------------------------------


async def test_answers_arriving_after_a_handover_are_dropped(
    tmp_path: Path, fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEM_CALLBACK_TOKEN", CALLBACK_TOKEN)
    async with daemon_with_rasa(tmp_path, fake_rasa, NO_SURVEY, mode="callback",
                                callback_token="${GEM_CALLBACK_TOKEN}") as r:
        runner = await serve_callback_route(r, fake_rasa)
        try:
            conv = await r.chat.open(TENANT)
            await r.chat.say(conv.id, "Eerst een gewone vraag")
            await r.chat.wait_for(conv.id, lambda m: any(x.party is Party.BOT for x in m))
            assert bot_texts(r, conv) == ["gem: Eerst een gewone vraag"]

            release = asyncio.Event()
            fake_rasa.late_callbacks_next(release)
            await r.chat.say(conv.id, "Een trage vraag")
            for _ in range(200):
                if len(fake_rasa.received) == 2:
                    break
                await asyncio.sleep(0.01)
            # The citizen asks for a person meanwhile; the agent helps and closes, so
            # the bot holds the conversation again, under a later epoch.
            await r.chat.request_agent(conv.id)
            first = thread_id(conv.id, 1)
            await r.desk.wait_for(lambda: first in r.desk.threads)
            await r.desk.join(first, "Sanne")
            await r.desk.close(first, "solved")
            for _ in range(200):
                if (await stored(r, conv)).state is State.BOT:
                    break
                await asyncio.sleep(0.01)
            stale_before = counter(CALLBACKS, adapter="bot", result="stale")
            release.set()
            await r.settle()
            # The answer to the question from before the handover is not shown now.
            assert bot_texts(r, conv) == ["gem: Eerst een gewone vraag"]
            assert counter(CALLBACKS, adapter="bot", result="stale") == stale_before + 1
            assert (await stored(r, conv)).state is State.BOT
        finally:
            await runner.cleanup()


# --- consent and enrichment at the desk -----------------------------------------------


def consent_policy(who: str) -> dict[str, Any]:
    return {"tenants": {TENANT: {"survey": {"enabled": False}, "handover": {"consent": who}}}}


async def answer_consent(r: Running, conv: Conversation, yes: bool) -> None:
    shown = await r.chat.wait_for(conv.id, lambda m: bool(m) and m[-1].party is Party.SYSTEM
                                  and len(m[-1].content.buttons) == 2)
    assert (await stored(r, conv)).state is State.CONSENT
    assert not r.desk.threads  # nothing reaches the desk before the citizen agrees
    button = shown[-1].content.buttons[0 if yes else 1]
    await r.chat.say(conv.id, button.title, payload=button.payload)


async def test_tracker_details_and_the_bots_consent_reach_the_desk(
    tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    async with daemon_with_rasa(
        tmp_path, fake_rasa, consent_policy("bot"), api=True, show_slots=["document"],
        show_intents=1,
    ) as r:
        fake_rasa.classify = lambda text: "vraag_paspoort"
        conv = await r.chat.open(TENANT)
        fake_rasa.set_slots(conv.id, document="paspoort", bsn="111222333")
        # Gem asked for consent itself and signals with it: the daemon does not ask.
        fake_rasa.answer_next([{"recipient_id": conv.id, "text": "Ik verbind u door.",
                                "custom": {"handover": {"topic": "paspoort", "consent": True}}}])
        await r.chat.say(conv.id, "Paspoort kwijt, ik wil iemand spreken")
        await r.desk.wait_for(lambda: thread_id(conv.id, 1) in r.desk.threads)
        signal = r.desk.threads[thread_id(conv.id, 1)].signal
        assert (signal.consent, signal.topic) == (True, "paspoort")
        assert signal.details == {
            "intents": [{"intent": "vraag_paspoort", "confidence": 0.93}],
            "slots": {"document": "paspoort"},
        }


async def test_bot_consent_policy_asks_when_the_bot_did_not(
    tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    async with daemon_with_rasa(tmp_path, fake_rasa, consent_policy("bot"),
                                handover_payloads=["/medewerker"]) as r:
        conv = await r.chat.open(TENANT)
        # The citizen's "talk to an employee" button: the bot never asked for consent.
        await r.chat.say(conv.id, "Medewerker spreken", payload="/medewerker")
        await answer_consent(r, conv, yes=False)
        await r.settle()
        assert (await stored(r, conv)).state is State.BOT and not r.desk.threads

        # The bot signals, but says the citizen did not agree yet: the daemon asks.
        fake_rasa.answer_next([{"recipient_id": conv.id,
                                "custom": {"handover": {"topic": "afval", "consent": False}}}])
        await r.chat.say(conv.id, "Toch graag iemand")
        await answer_consent(r, conv, yes=True)
        await r.desk.wait_for(lambda: thread_id(conv.id, 1) in r.desk.threads)
        signal = r.desk.threads[thread_id(conv.id, 1)].signal
        assert (signal.consent, signal.topic) == (True, "afval")
        assert fake_rasa.messages_from(conv.id) == ["Toch graag iemand"]


async def test_daemon_consent_policy_asks_even_after_the_bot_did(
    tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    async with daemon_with_rasa(tmp_path, fake_rasa, consent_policy("daemon")) as r:
        conv = await r.chat.open(TENANT)
        fake_rasa.answer_next([{"recipient_id": conv.id,
                                "custom": {"handover": {"topic": "afval", "consent": True}}}])
        await r.chat.say(conv.id, "Ik wil iemand spreken")
        await answer_consent(r, conv, yes=True)
        await r.desk.wait_for(lambda: thread_id(conv.id, 1) in r.desk.threads)
        assert r.desk.threads[thread_id(conv.id, 1)].signal.consent is True


# --- capabilities ---------------------------------------------------------------------


async def test_rasa_buttons_and_images_degrade_on_a_plain_text_channel(
    tmp_path: Path, fake_rasa: FakeRasa
) -> None:
    plain = {**NO_SURVEY, "adapters": {"chat": {"type": "memory_channel", "max_buttons": 0,
                                                "attachments": False}}}
    async with daemon_with_rasa(tmp_path, fake_rasa, plain) as r:
        conv = await r.chat.open(TENANT)
        fake_rasa.answer_next([
            {"recipient_id": conv.id, "text": "Waar gaat het over?", "buttons": [
                {"title": "Afval", "payload": "/afval"},
                {"title": "Paspoort", "payload": "/paspoort"}]},
            {"recipient_id": conv.id, "image": "https://gem.example.nl/static/kaart.png"},
        ])
        await r.chat.say(conv.id, "Hallo")
        await r.settle()
        assert bot_texts(r, conv) == [
            "Waar gaat het over?\n1. Afval\n2. Paspoort",
            "kaart.png: https://gem.example.nl/static/kaart.png",
        ]
        # The citizen answers with a number: Rasa gets that button's payload.
        await r.chat.say(conv.id, "2")
        await r.settle()
        assert fake_rasa.messages_from(conv.id) == ["Hallo", "/paspoort"]
