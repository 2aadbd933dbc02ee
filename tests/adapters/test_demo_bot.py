"""The scripted demo bot: topics in nl and en, the handover signal, test triggers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from adapters.demo_bot.adapter import DemoBot, DemoBotOptions
from adapters.demo_bot.script import HANDOVER_PAYLOAD, TOPICS
from adapters.rasa.wire import parse_rasa_messages, to_rasa_messages
from handover.clock import FakeClock
from handover.model import Button, Conversation, HandoverSignal
from handover.sdk.contracts import BotResponse, BotTurn, ConfigIssues
from handover.sdk.errors import TransientError
from tests.adapters.conftest import FakeContext

MakeCtx = Callable[..., FakeContext]


def make_bot(make_ctx: MakeCtx, options: DemoBotOptions | None = None,
             clock: FakeClock | None = None) -> tuple[DemoBot, Conversation]:
    ctx = make_ctx("gem", clock=clock)
    bot = DemoBot("gem", options or DemoBotOptions(), ctx)
    return bot, ctx.add_conversation(channel="web")


async def ask(bot: DemoBot, conv: Conversation, text: str, language: str = "nl",
              payload: str | None = None) -> BotResponse:
    return await bot.turn(conv, BotTurn(message_id="m1", text=text, payload=payload, language=language))


# --- configuration -------------------------------------------------------------------


def test_parse_config_defaults_and_values() -> None:
    assert DemoBot.parse_config({}, "adapters.gem") == DemoBotOptions()
    assert DemoBot.parse_config(
        {"delay_seconds": 2, "slow_trigger": "traag", "fail_trigger": None}, "adapters.gem"
    ) == DemoBotOptions(delay_seconds=2.0, slow_trigger="traag", fail_trigger=None)


def test_parse_config_reports_every_problem() -> None:
    with pytest.raises(ConfigIssues) as exc:
        DemoBot.parse_config(
            {"delay_seconds": -1, "slow_trigger": 3, "fail_trigger": "", "colour": "red"},
            "adapters.gem",
        )
    paths = sorted(i.path for i in exc.value.issues)
    assert paths == [
        "adapters.gem.colour",
        "adapters.gem.delay_seconds",
        "adapters.gem.fail_trigger",
        "adapters.gem.slow_trigger",
    ]


def test_parse_config_caps_the_delay() -> None:
    with pytest.raises(ConfigIssues) as exc:
        DemoBot.parse_config({"delay_seconds": 3600}, "adapters.gem")
    assert exc.value.issues[0].path == "adapters.gem.delay_seconds"


# --- topics --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "topic", "expected"),
    [
        ("Ik wil een nieuw paspoort aanvragen", "nl", "passport", "paspoort of ID-kaart"),
        ("Wanneer wordt het afval opgehaald?", "nl", "waste", "afvalkalender"),
        ("Ik ga verhuizen", "nl", "moving", "verhuizing"),
        ("Hoe kan ik parkeren bij mij in de straat?", "nl", "parking", "parkeervergunning"),
        ("Wat zijn de openingstijden van het gemeentehuis?", "nl", "opening_hours", "9.00"),
        ("How do I renew my passport?", "en", "passport", "passport or ID card"),
        ("When is my waste collected?", "en", "waste", "waste calendar"),
        ("I am moving next month", "en", "moving", "report a move"),
        ("I need a parking permit", "en", "parking", "parking permit"),
        ("What are the opening hours?", "en", "opening_hours", "9:00"),
        # Keywords of both languages work; the answer follows the conversation's language.
        ("passport", "nl", "passport", "paspoort"),
        ("afval", "en", "waste", "waste calendar"),
    ],
)
async def test_topics_in_both_languages(
    make_ctx: MakeCtx, text: str, language: str, topic: str, expected: str
) -> None:
    bot, conv = make_bot(make_ctx)
    response = await ask(bot, conv, text, language)
    assert response.handover is None
    (answer,) = response.messages
    assert expected.lower() in answer.text.lower()
    # Like Gem's local answers: a "talk to an employee" button under the answer.
    assert [b.payload for b in answer.buttons] == [HANDOVER_PAYLOAD]


async def test_topic_buttons_answer_by_payload(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    response = await ask(bot, conv, "Afval", payload="/waste")
    assert "afvalkalender" in response.messages[0].text


async def test_the_topic_mentioned_first_wins(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    response = await ask(bot, conv, "Ik ga verhuizen, heb ik een nieuwe parkeervergunning nodig?")
    assert "verhuizing" in response.messages[0].text


async def test_greeting_offers_the_topics(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    nl = (await ask(bot, conv, "Hallo")).messages[0]
    en = (await ask(bot, conv, "Hi there", "en")).messages[0]
    assert nl.text.startswith("Hallo!") and en.text.startswith("Hello!")
    assert [b.payload for b in nl.buttons] == [t.payload for t in TOPICS]
    assert en.buttons[0] == Button("Passport or ID card", "/passport")


async def test_thanks(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    assert (await ask(bot, conv, "Bedankt!")).messages[0].text.startswith("Graag gedaan")
    assert (await ask(bot, conv, "thank you", "en")).messages[0].text.startswith("You're welcome")


async def test_fallback_offers_a_person_and_the_topics(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    nl = (await ask(bot, conv, "Mijn kat is zoek")).messages[0]
    en = (await ask(bot, conv, "My cat is lost", "en")).messages[0]
    assert nl.buttons[0] == Button("Medewerker spreken", "/handover")
    assert en.buttons[0] == Button("Talk to an employee", "/handover")
    assert [b.payload for b in nl.buttons[1:]] == [t.payload for t in TOPICS]
    assert nl.text.startswith("Dat begrijp ik") and en.text.startswith("Sorry")


async def test_other_languages_are_answered_in_dutch(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    assert (await ask(bot, conv, "?", "tr")).messages[0].text.startswith("Dat begrijp ik")


async def test_words_are_matched_whole_not_inside_other_words(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    # "agenda" is not "agent", "this" is not "hi", "personal" is not "person".
    for text in ("Staat dat in de agenda?", "what is this", "a personal matter"):
        response = await ask(bot, conv, text, "en")
        assert response.handover is None, text
        assert response.messages[0].text.startswith(("Sorry", "Dat begrijp")), text


# --- asking for a person ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "payload", "language"),
    [
        ("Medewerker spreken", HANDOVER_PAYLOAD, "nl"),
        ("/handover", None, "nl"),
        ("Ik wil een medewerker spreken", None, "nl"),
        ("Mag ik een mens?", None, "nl"),
        ("Kan ik een persoon spreken", None, "nl"),
        ("agent please", None, "en"),
        ("Can I talk to an employee?", None, "en"),
        ("I want a real person", None, "en"),
        ("human", None, "en"),
    ],
)
async def test_asking_for_a_person_signals_a_handover(
    make_ctx: MakeCtx, text: str, payload: str | None, language: str
) -> None:
    bot, conv = make_bot(make_ctx)
    response = await ask(bot, conv, text, language, payload)
    assert response.handover == HandoverSignal(reason="citizen_request", topic=None, language=language)
    # The custom payload itself is not shown; only the bot's announcement is.
    (shown,) = response.messages
    assert shown.custom is None
    assert shown.text.startswith("Ik verbind u door" if language == "nl" else "I am connecting you")


async def test_handover_carries_the_last_topic_of_that_conversation(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    other = bot.ctx.add_conversation(channel="web")  # type: ignore[attr-defined]
    await ask(bot, conv, "afval")
    await ask(bot, conv, "en mijn paspoort?")
    await ask(bot, other, "parkeren")
    response = await ask(bot, conv, "medewerker")
    assert response.handover is not None and response.handover.topic == "passport"


async def test_handover_answer_is_what_a_rasa_bot_would_send(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    await ask(bot, conv, "parking", "en")
    response = await ask(bot, conv, "employee", "en")
    rasa = to_rasa_messages(conv.id, response)
    assert rasa[-1] == {
        "recipient_id": conv.id,
        "custom": {"handover": {"reason": "citizen_request", "topic": "parking", "queue": None,
                                "language": "en", "consent": True,
                                "details": {"topic_label": "Parkeren"}}},
    }
    assert parse_rasa_messages(rasa) == response


# --- test triggers ---------------------------------------------------------------------


async def test_fail_trigger_raises_transient_error(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx, DemoBotOptions(fail_trigger="KAPOT"))
    with pytest.raises(TransientError):
        await ask(bot, conv, "dit gaat kapot")
    assert (await ask(bot, conv, "afval")).messages


async def test_slow_trigger_delays_only_matching_turns(make_ctx: MakeCtx) -> None:
    clock = FakeClock()
    bot, conv = make_bot(make_ctx, DemoBotOptions(delay_seconds=30, slow_trigger="traag"), clock)
    assert (await ask(bot, conv, "afval")).messages  # not delayed: returns without the clock
    slow = asyncio.create_task(ask(bot, conv, "traag antwoord over afval"))
    await asyncio.sleep(0.01)
    assert not slow.done()
    clock.advance(29)
    await asyncio.sleep(0.01)
    assert not slow.done()
    clock.advance(1)
    assert "afvalkalender" in (await asyncio.wait_for(slow, 1)).messages[0].text


async def test_delay_without_trigger_delays_every_turn(make_ctx: MakeCtx) -> None:
    clock = FakeClock()
    bot, conv = make_bot(make_ctx, DemoBotOptions(delay_seconds=5), clock)
    turn = asyncio.create_task(ask(bot, conv, "hallo"))
    await asyncio.sleep(0.01)
    assert not turn.done()
    clock.advance(5)
    assert (await asyncio.wait_for(turn, 1)).messages


async def test_handback_is_logged_without_content(make_ctx: MakeCtx) -> None:
    bot, conv = make_bot(make_ctx)
    with capture_logs() as logs:
        await bot.handback(conv, "resolved")
    assert logs == [{"event": "demo_bot.handback", "conversation_id": conv.id,
                     "outcome": "resolved", "log_level": "info"}]
