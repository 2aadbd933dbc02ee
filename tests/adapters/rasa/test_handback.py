"""Handback: when the agent closes, the bot is told (trigger an intent or append events)."""

from __future__ import annotations

import socket

import pytest

from handover import events as ev
from handover.model import Button
from handover.sdk.errors import AmbiguousSendError, TransientError
from tests.adapters.rasa.conftest import NAME, Harness
from tests.fakes.rasa_server import fixture


async def test_trigger_intent_with_the_outcome_and_show_what_the_bot_says(
    rasa: Harness,
) -> None:
    await rasa.make(api=True, handback="intent", handback_intent="livechat_ended")
    recorded = fixture("trigger_intent.json")["response"]["messages"]
    rasa.fake.intent_answers["livechat_ended"] = [
        {k: v for k, v in m.items() if k != "recipient_id"} for m in recorded
    ]
    conv = rasa.conversation()
    await rasa.bot.handback(rasa.ctx.conversations[conv.id], "solved")  # type: ignore[union-attr]
    assert rasa.fake.intents_triggered == [(conv.id, "livechat_ended", {"outcome": "solved"})]
    (reply,) = rasa.ctx.events_of(ev.BotReplied)
    assert reply.epoch == conv.epoch
    assert reply.source == NAME
    assert reply.messages[0].text.startswith("Fijn dat de medewerker")
    assert reply.messages[0].buttons == (Button("Nee, bedankt", "/goodbye"),)


async def test_a_handback_intent_the_bot_does_not_answer_ingests_nothing(rasa: Harness) -> None:
    await rasa.make(api=True, handback="intent")
    conv = rasa.conversation()
    await rasa.bot.handback(conv, "agent_inactive")  # type: ignore[union-attr]
    assert rasa.fake.intents_triggered == [(conv.id, "livechat_ended",
                                            {"outcome": "agent_inactive"})]
    assert rasa.ctx.events == []


async def test_append_a_slot_event(rasa: Harness) -> None:
    await rasa.make(api=True, handback="events", handback_slot="livechat_uitkomst")
    conv = rasa.conversation()
    await rasa.bot.handback(conv, "solved")  # type: ignore[union-attr]
    assert rasa.fake.events_posted[conv.id] == [
        {"event": "slot", "name": "livechat_uitkomst", "value": "solved"}
    ]
    assert rasa.fake.trackers[conv.id]["slots"]["livechat_uitkomst"] == "solved"


async def test_handback_none_calls_nothing(rasa: Harness) -> None:
    await rasa.make()
    await rasa.bot.handback(rasa.conversation(), "solved")  # type: ignore[union-attr]
    assert rasa.fake.api_requests == 0 and rasa.fake.received == []


async def test_handback_failures(rasa: Harness) -> None:
    await rasa.make(api=True, handback="intent")
    rasa.fake.api_token = "needed"
    with pytest.raises(AmbiguousSendError):
        await rasa.bot.handback(rasa.conversation(), "solved")  # type: ignore[union-attr]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await rasa.make(api=True, handback="intent", api_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError):
        await rasa.bot.handback(rasa.conversation(), "solved")  # type: ignore[union-attr]
