"""Rasa REST-channel bot messages to Content / BotResponse and back."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.rasa.wire import parse_rasa_messages, to_rasa_messages
from handover.model import Attachment, Button, Content, HandoverSignal
from handover.sdk.contracts import BotResponse

R = "citizen-1"


def test_an_empty_answer_is_an_empty_response() -> None:
    assert parse_rasa_messages([]) == BotResponse()


def test_text_and_buttons() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "text": "Waarmee kan ik helpen?", "buttons": [
            {"title": "Afval", "payload": "/waste"},
            {"title": "Parkeren", "payload": '/parking{"zone": "A"}'},
        ]},
    ])
    assert response.messages == (
        Content(
            text="Waarmee kan ik helpen?",
            buttons=(Button("Afval", "/waste"), Button("Parkeren", '/parking{"zone": "A"}')),
        ),
    )
    assert response.handover is None


def test_each_rasa_message_is_one_content_in_order() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "text": "Eén"},
        {"recipient_id": R, "text": "Twee"},
    ])
    assert [c.text for c in response.messages] == ["Eén", "Twee"]


def test_quick_replies_become_buttons_and_those_without_payload_are_skipped() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "text": "Kies", "quick_replies": [
            {"content_type": "text", "title": "Ja", "payload": "/affirm"},
            {"content_type": "location"},
            {"content_type": "text", "payload": "/deny"},
        ]},
    ])
    assert response.messages[0].buttons == (Button("Ja", "/affirm"), Button("/deny", "/deny"))


def test_malformed_buttons_are_skipped_not_fatal() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "text": "Kies", "buttons": ["x", {"title": "Leeg"}, {"title": "Ok", "payload": "/ok"}]},
        {"recipient_id": R, "text": "Geen lijst", "buttons": "nope"},
    ])
    assert response.messages[0].buttons == (Button("Ok", "/ok"),)
    assert response.messages[1] == Content(text="Geen lijst")


def test_image_url_becomes_an_attachment_with_name_and_type() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "image": "https://gemeente.example/img/kaart.png?v=2"},
        {"recipient_id": R, "image": "https://gemeente.example/render/123"},
    ])
    assert response.messages[0] == Content(
        attachments=(Attachment("https://gemeente.example/img/kaart.png?v=2", "kaart.png", "image/png"),)
    )
    # No extension: still known to be an image.
    assert response.messages[1].attachments[0].mime_type == "image/*"


def test_attachment_shapes() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "attachment": "https://gemeente.example/docs/tarieven.pdf"},
        {"recipient_id": R, "attachment": {"type": "video", "payload": {"title": "Uitleg", "src": "https://video.example/embed/abc"}}},
        {"recipient_id": R, "attachment": {"url": "https://x.example/f", "name": "formulier", "mime_type": "application/pdf"}},
    ])
    assert [c.attachments for c in response.messages] == [
        (Attachment("https://gemeente.example/docs/tarieven.pdf", "tarieven.pdf", "application/pdf"),),
        (Attachment("https://video.example/embed/abc", "Uitleg", "video/*"),),
        (Attachment("https://x.example/f", "formulier", "application/pdf"),),
    ]


def test_templates_and_elements_are_kept_whole_in_custom() -> None:
    template = {"type": "template", "payload": {"template_type": "generic", "elements": []}}
    elements = [{"title": "Kaart", "subtitle": "Open"}]
    response = parse_rasa_messages([
        {"recipient_id": R, "attachment": template},
        {"recipient_id": R, "text": "Kies", "elements": elements},
    ])
    assert response.messages[0] == Content(custom={"attachment": template})
    assert response.messages[1] == Content(text="Kies", custom={"elements": elements})


def test_other_custom_payloads_are_kept() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "custom": {"type": "map", "lat": 52.1}},
        {"recipient_id": R, "custom": ["a", "b"]},
    ])
    assert response.messages == (
        Content(custom={"type": "map", "lat": 52.1}),
        Content(custom={"value": ["a", "b"]}),
    )
    assert response.handover is None


def test_handover_custom_payload_is_a_signal_not_a_message() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "text": "Ik verbind u door."},
        {"recipient_id": R, "custom": {"handover": {
            "reason": "bot_request", "topic": "paspoort", "queue": "burgerzaken",
            "language": "en", "consent": False,
        }}},
    ])
    assert response.messages == (Content(text="Ik verbind u door."),)
    assert response.handover == HandoverSignal(
        reason="bot_request", topic="paspoort", queue="burgerzaken", language="en", consent=False
    )


def test_empty_or_odd_handover_values_give_the_default_signal() -> None:
    values: list[Any] = [None, {}, True, "yes"]
    for value in values:
        response = parse_rasa_messages([{"recipient_id": R, "custom": {"handover": value}}])
        assert response == BotResponse(messages=(), handover=HandoverSignal()), value


def test_handover_message_with_text_is_shown_without_the_signal() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "text": "Een moment", "custom": {"handover": {"topic": "afval"}, "ui": "spinner"}},
    ])
    assert response.messages == (Content(text="Een moment", custom={"ui": "spinner"}),)
    assert response.handover == HandoverSignal(topic="afval")


def test_handover_key_is_configurable() -> None:
    messages = [
        {"recipient_id": R, "custom": {"handover": {"topic": "x"}}},
        {"recipient_id": R, "custom": {"escalate": {"topic": "y"}}},
    ]
    response = parse_rasa_messages(messages, handover_key="escalate")
    assert response.handover == HandoverSignal(topic="y")
    assert response.messages == (Content(custom={"handover": {"topic": "x"}}),)


def test_the_first_handover_signal_counts() -> None:
    response = parse_rasa_messages([
        {"recipient_id": R, "custom": {"handover": {"topic": "first"}}},
        {"recipient_id": R, "custom": {"handover": {"topic": "second"}}},
    ])
    assert response.handover == HandoverSignal(topic="first")


def test_entries_with_nothing_to_show_and_non_objects_are_skipped() -> None:
    odd: list[Any] = [
        {"recipient_id": R}, "text", None, {"recipient_id": R, "text": ""}, {"text": 42},
        {"recipient_id": R, "image": None, "attachment": None, "elements": None, "custom": None},
    ]
    assert parse_rasa_messages(odd).messages == (Content(text="42"),)


def test_to_rasa_messages_speaks_rasa() -> None:
    response = BotResponse(
        messages=(
            Content(text="Hallo", buttons=(Button("Medewerker spreken", "/handover"),)),
            Content(attachments=(Attachment("https://x.example/a.png", "a.png", "image/png"),)),
            Content(text="Twee bijlagen", attachments=(
                Attachment("https://x.example/b.pdf", "Tarieven", "application/pdf"),
                Attachment("https://x.example/c.png", "c.png", "image/png"),
            )),
        ),
        handover=HandoverSignal(topic="waste", language="nl"),
    )
    assert to_rasa_messages(R, response) == [
        {"recipient_id": R, "text": "Hallo", "buttons": [{"title": "Medewerker spreken", "payload": "/handover"}]},
        {"recipient_id": R, "image": "https://x.example/a.png"},
        {"recipient_id": R, "text": "Twee bijlagen", "attachment": {
            "type": "file",
            "payload": {"src": "https://x.example/b.pdf", "name": "Tarieven", "mime_type": "application/pdf"},
        }},
        {"recipient_id": R, "image": "https://x.example/c.png"},
        {"recipient_id": R, "custom": {"handover": HandoverSignal(topic="waste", language="nl").to_json()}},
    ]


def test_round_trip_of_a_typical_response() -> None:
    response = BotResponse(
        messages=(
            Content(text="Hier is de kaart", attachments=(Attachment("https://x.example/k.jpg", "k.jpg", "image/jpeg"),)),
            Content(text="Video", attachments=(Attachment("https://x.example/v", "Uitleg", "video/mp4"),)),
            Content(custom={"type": "map"}),
        ),
        handover=HandoverSignal(reason="bot_request", topic="afval", queue="kcc", language="en"),
    )
    assert parse_rasa_messages(to_rasa_messages(R, response)) == response
    assert parse_rasa_messages(to_rasa_messages(R, response, "esc"), "esc") == response


_text = st.text(min_size=1, max_size=20).filter(str.strip)
_attachment = st.sampled_from([
    Attachment("https://x.example/a.png", "a.png", "image/png"),
    Attachment("https://x.example/a.png", "Plattegrond", "image/png"),
    Attachment("https://x.example/doc", "Brief", "application/pdf"),
    Attachment("https://x.example/clip.mp4", "clip.mp4", "video/mp4"),
])
_content = st.builds(
    Content,
    text=_text,
    buttons=st.lists(st.builds(Button, _text, _text), max_size=3).map(tuple),
    attachments=st.lists(_attachment, max_size=1).map(tuple),
)
_signal = st.none() | st.builds(
    HandoverSignal, reason=_text, topic=st.none() | _text, queue=st.none() | _text,
    language=st.sampled_from([None, "nl", "en"]), consent=st.booleans(),
)


@given(st.lists(_content, max_size=4).map(tuple), _signal)
def test_round_trip_property(messages: tuple[Content, ...], signal: HandoverSignal | None) -> None:
    response = BotResponse(messages=messages, handover=signal)
    assert parse_rasa_messages(to_rasa_messages(R, response)) == response
