"""Turns through Rasa's REST channel: mapping, every handover trigger, consent, enrichment."""

from __future__ import annotations

from typing import Any

from adapters.rasa.adapter import CUSTOM_DROPPED
from handover.model import Attachment, Button, Content
from tests.adapters.rasa.conftest import NAME, Harness, counter
from tests.fakes.rasa_server import fixture


def recorded() -> list[dict[str, Any]]:
    exchanges: list[dict[str, Any]] = fixture("rest_webhook.json")["exchanges"]
    return exchanges


async def test_recorded_exchange_with_buttons_images_and_custom_payloads(rasa: Harness) -> None:
    await rasa.make(custom_keys=["link"], handover_payloads=[])
    conv = rasa.conversation()
    first, second = recorded()
    rasa.fake.answer_next(first["response"])
    dropped_before = counter(CUSTOM_DROPPED, adapter=NAME)
    response = await rasa.turn(conv, first["request"]["message"], message_id="m-1",
                               metadata={k: v for k, v in first["request"]["metadata"].items()
                                         if k != "handover_message_id"})
    assert response.handover is None
    assert response.messages == (
        Content(text="Een nieuw paspoort vraagt u persoonlijk aan bij de gemeente."),
        Content(text="Waar kan ik u mee helpen?", buttons=(
            Button("Afspraak maken", "/afspraak_maken"),
            Button("Wat kost het?", '/kosten{"document": "paspoort"}'),
            Button("Medewerker spreken", "/handover"),
        )),
        Content(attachments=(Attachment("https://gem.example.nl/static/pasfoto-eisen.png",
                                        "pasfoto-eisen.png", "image/png"),)),
        # A custom payload the channels understand ("link") is passed on...
        Content(custom={"link": {"url": "https://www.example.nl/paspoort",
                                 "title": "Alles over het paspoort"}}),
        # ..."gem_feedback" is not: its message is dropped and counted.
        Content(text="Was dit antwoord nuttig?",
                buttons=(Button("Ja", "/affirm"), Button("Nee", "/deny"))),
    )
    assert counter(CUSTOM_DROPPED, adapter=NAME) == dropped_before + 1
    # What Rasa received is the recorded request: sender, message and metadata.
    (sent,) = rasa.fake.received
    assert sent.sender == conv.id
    assert sent.message == first["request"]["message"]
    assert sent.metadata == first["request"]["metadata"]

    rasa.fake.answer_next(second["response"])
    response = await rasa.turn(conv, "Ja", payload="/affirm_handover", message_id="m-2")
    assert [c.text for c in response.messages] == [
        "Ik verbind u door met een medewerker van de gemeente."
    ]
    signal = response.handover
    assert signal is not None
    assert (signal.reason, signal.topic, signal.queue, signal.language, signal.consent) == (
        "citizen_request", "paspoort", "burgerzaken", "nl", True
    )
    # A key the core has no field for reaches the agent in the details.
    assert signal.details["summary"] == "Paspoort verlopen, wil afspraak"
    # The button's payload, not its title, is what Rasa gets as the message.
    assert rasa.fake.received[-1].message == "/affirm_handover"


async def test_page_context_and_message_id_go_to_rasa_as_metadata(rasa: Harness) -> None:
    await rasa.make()
    conv = rasa.conversation()
    metadata = {"tenant": "demo", "channel": "chat", "language": "en",
                "context": {"url": "https://www.example.nl/afval", "title": "Afval"}}
    await rasa.turn(conv, "When is the bin collected?", message_id="m-42", metadata=metadata)
    (sent,) = rasa.fake.received
    assert sent.metadata == {**metadata, "handover_message_id": "m-42"}


async def test_custom_payload_trigger_with_a_configured_key(rasa: Harness) -> None:
    await rasa.make(handover_key="livechat")
    conv = rasa.conversation()
    rasa.fake.answer_next([
        {"recipient_id": conv.id, "custom": {"handover": {"reason": "ignored"}}},
        {"recipient_id": conv.id, "text": "Even geduld", "custom": {"livechat": {"topic": "afval"}}},
    ])
    response = await rasa.turn(conv, "mens")
    assert response.handover is not None and response.handover.topic == "afval"
    # The message with the signal keeps its text; the other key is an unknown custom.
    assert [c.text for c in response.messages] == ["Even geduld"]


async def test_button_payload_trigger_hands_over_without_asking_rasa(rasa: Harness) -> None:
    await rasa.make(handover_payloads=["/handover", "/medewerker"])
    conv = rasa.conversation()
    response = await rasa.turn(conv, "Medewerker spreken", payload="/medewerker")
    assert response.messages == ()
    assert response.handover is not None
    assert response.handover.reason == "citizen_request"
    assert response.handover.details["trigger"] == "button"
    assert rasa.fake.received == []
    # The same words typed (no payload) are an ordinary turn.
    await rasa.turn(conv, "/medewerker")
    assert [r.message for r in rasa.fake.received] == ["/medewerker"]


async def test_intent_trigger_reads_the_turns_intent_from_the_tracker(rasa: Harness) -> None:
    await rasa.make(api=True, handover_intents=["human_handoff"], show_intents=0)
    rasa.fake.classify = lambda text: "human_handoff" if "mens" in text else "greet"
    conv = rasa.conversation()
    response = await rasa.turn(conv, "Hallo", message_id="m-1")
    assert response.handover is None
    response = await rasa.turn(conv, "Ik wil een mens", message_id="m-2")
    assert response.handover is not None
    assert response.handover.reason == "intent"
    assert response.handover.details == {"trigger": "intent", "intent": "human_handoff"}
    # The bot's own answer to that turn is still shown.
    assert [c.text for c in response.messages] == ["gem: Ik wil een mens"]


async def test_the_bots_consent_flag_is_passed_on(rasa: Harness) -> None:
    await rasa.make()
    conv = rasa.conversation()
    rasa.fake.answer_next([{"recipient_id": conv.id, "custom": {"handover": {"consent": True}}}])
    assert (await rasa.turn(conv, "ja")).handover.consent is True  # type: ignore[union-attr]
    rasa.fake.answer_next([{"recipient_id": conv.id, "custom": {"handover": {"consent": False}}}])
    assert (await rasa.turn(conv, "nee")).handover.consent is False  # type: ignore[union-attr]
    # Gem asks before it signals: a payload without the flag counts as consented.
    rasa.fake.answer_next([{"recipient_id": conv.id, "custom": {"handover": {}}}])
    assert (await rasa.turn(conv, "x")).handover.consent is True  # type: ignore[union-attr]


async def test_handovers_the_bot_did_not_ask_about_carry_no_consent(rasa: Harness) -> None:
    await rasa.make(api=True, handover_payloads=["/handover"], handover_intents=["human"])
    rasa.fake.classify = lambda text: "human"
    conv = rasa.conversation()
    by_button = await rasa.turn(conv, "Medewerker", payload="/handover")
    by_intent = await rasa.turn(conv, "een mens graag", message_id="m-2")
    assert by_button.handover is not None and by_button.handover.consent is False
    assert by_intent.handover is not None and by_intent.handover.consent is False


async def test_handover_is_enriched_from_the_tracker(rasa: Harness) -> None:
    await rasa.make(api=True, show_slots=["document", "gemeente"], show_intents=2)
    conv = rasa.conversation()
    tracker = fixture("conversations_tracker.json")["tracker"]
    rasa.fake.trackers[conv.id] = tracker
    # The fake appends this turn's events after the recorded ones.
    rasa.fake.classify = lambda text: "affirm_handover"
    rasa.fake.answer_next([{"recipient_id": conv.id, "text": "Ik verbind u door.",
                            "custom": {"handover": {"topic": "paspoort"}}}])
    response = await rasa.turn(conv, "/affirm_handover", message_id="m-3")
    signal = response.handover
    assert signal is not None
    assert signal.details == {
        "intents": [
            {"intent": "affirm_handover", "confidence": 0.97},
            {"intent": "affirm_handover", "confidence": 0.93},
        ],
        # Only the configured slots: never the BSN the bot happened to store.
        "slots": {"document": "paspoort", "gemeente": "Testdam"},
    }


async def test_enrichment_failure_does_not_fail_the_turn(rasa: Harness) -> None:
    await rasa.make(api=True, show_slots=["document"])
    rasa.fake.api_token = "expected-token"  # we send none: the API refuses
    conv = rasa.conversation()
    rasa.fake.answer_next([{"recipient_id": conv.id, "text": "Ik verbind u door.",
                            "custom": {"handover": {"topic": "afval"}}}])
    response = await rasa.turn(conv, "mens")
    assert response.handover is not None and response.handover.topic == "afval"
    assert response.handover.details == {}


async def test_the_api_token_is_sent(rasa: Harness) -> None:
    rasa.fake.api_token = "tok-1"
    await rasa.make(api=True, api_token="tok-1", show_slots=["document"])
    conv = rasa.conversation()
    rasa.fake.set_slots(conv.id, document="id-kaart")
    rasa.fake.answer_next([{"recipient_id": conv.id, "custom": {"handover": {}}}])
    response = await rasa.turn(conv, "mens")
    assert response.handover is not None
    assert response.handover.details["slots"] == {"document": "id-kaart"}
