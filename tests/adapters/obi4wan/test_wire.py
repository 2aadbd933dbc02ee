"""The assumed OBI4wan contract: signatures, webhook events, ingest bodies, availability."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.obi4wan import wire
from handover.model import Attachment
from handover.sdk.contracts import Availability

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = b'{"eventId":"e1"}'


def headers(secret: str = "s1", ts: str = TS, body: bytes = BODY) -> dict[str, str]:
    return {wire.TIMESTAMP_HEADER: ts, wire.SIGNATURE_HEADER: wire.sign(secret, ts, body)}


def check(h: dict[str, str], body: bytes = BODY, secrets: tuple[str, ...] = ("s1",)) -> str:
    return wire.check_signature(h, body, secrets, NOW, 300).value


def test_signature_over_timestamp_and_raw_body() -> None:
    assert check(headers()) == "ok"
    # Any change to the body or to the signed timestamp breaks it.
    assert check(headers(), body=BODY + b" ") == "mismatch"
    h = headers()
    h[wire.TIMESTAMP_HEADER] = str(int(TS) + 1)
    assert check(h) == "mismatch"
    assert check(headers(secret="other")) == "mismatch"


def test_two_secrets_during_rotation() -> None:
    assert check(headers(secret="old"), secrets=("new", "old")) == "ok"
    assert check(headers(secret="new"), secrets=("new", "old")) == "ok"
    assert check(headers(secret="older"), secrets=("new", "old")) == "mismatch"


def test_timestamps_outside_the_tolerance_window_are_stale_both_ways() -> None:
    assert check(headers(ts=str(int(TS) - 301))) == "stale"
    assert check(headers(ts=str(int(TS) + 301))) == "stale"
    assert check(headers(ts=str(int(TS) - 299))) == "ok"


@pytest.mark.parametrize(("h", "expected"), [
    ({}, "missing"),
    ({wire.TIMESTAMP_HEADER: TS}, "missing"),
    ({wire.TIMESTAMP_HEADER: "yesterday", wire.SIGNATURE_HEADER: "sha256=00"}, "malformed"),
    ({wire.TIMESTAMP_HEADER: TS, wire.SIGNATURE_HEADER: "md5=00"}, "malformed"),
])
def test_missing_or_malformed_signature_headers(h: dict[str, str], expected: str) -> None:
    assert check(h) == expected


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventId": "e1", "type": "message.created", "threadId": "abc-1",
        "channelIdentifier": "ch", "occurredAt": "2026-03-02T09:00:00Z",
        "agent": {"id": "a1", "name": "Sanne"},
        "message": {"id": "m1", "content": "Goedemiddag",
                    "attachments": [{"url": "https://cdn.example/f.pdf?token=x", "name": "f.pdf",
                                     "mimeType": "application/pdf"}]},
    }
    base.update(changes)
    return base


def test_parse_message_event_with_attachment() -> None:
    e = wire.parse_event(event())
    assert e.type is wire.EventType.MESSAGE_CREATED
    assert (e.event_id, e.thread_id, e.agent_name, e.message_id) == ("e1", "abc-1", "Sanne", "m1")
    assert e.text == "Goedemiddag"
    assert e.attachments == (
        Attachment("https://cdn.example/f.pdf?token=x", "f.pdf", "application/pdf"),)


def test_parse_closed_and_typing_and_unknown_types() -> None:
    closed = wire.parse_event(event(type="conversation.closed", message=None,
                                    closure={"reason": "agent", "outcome": "solved"}))
    assert closed.type is wire.EventType.CLOSED and closed.outcome == "solved"
    reason_only = wire.parse_event(event(type="conversation.closed", closure={"reason": "idle"}))
    assert reason_only.outcome == "idle"
    typing = wire.parse_event(event(type="agent.typing", typing=False))
    assert typing.type is wire.EventType.AGENT_TYPING and typing.typing is False
    future = wire.parse_event(event(type="agent.rated"))
    assert future.type is None and future.raw_type == "agent.rated"


@pytest.mark.parametrize(("agent", "expected"), [
    ({"id": "a1", "name": "Sanne"}, "a1"),
    ({"id": 4711, "name": "Sanne"}, "4711"),  # a platform that numbers its users
    ({"id": "", "name": "Sanne"}, None),
    ({"name": "Sanne"}, None),
    (None, None),
])
def test_the_agents_id_is_read_when_the_event_carries_one(
    agent: dict[str, Any] | None, expected: str | None,
) -> None:
    joined = wire.parse_event(event(type="agent.joined", message=None, agent=agent))
    assert joined.agent_id == expected


@pytest.mark.parametrize(("body", "needle"), [
    ([], "JSON object"),
    (event(agent={"id": True}), "agent.id must be a string"),
    (event(agent={"id": "x" * 201}), "agent.id must be at most"),
    (event(eventId=None), "eventId is required"),
    (event(eventId="x" * 201), "eventId must be at most"),
    (event(threadId=7), "threadId must be a string"),
    (event(channelIdentifier=None), "channelIdentifier is required"),
    (event(message=None), "needs a message"),
    (event(message={"id": "m1", "content": " "}), "neither content nor attachments"),
    (event(message={"id": "m1", "content": "x", "attachments": [{"url": "ftp://x"}]}),
     r"must be http\(s\)"),
    (event(agent="Sanne"), "agent must be an object"),
    (event(typing="yes"), "typing must be true or false"),
])
def test_invalid_events_say_what_is_wrong(body: Any, needle: str) -> None:
    with pytest.raises(wire.WireError, match=needle):
        wire.parse_event(body)


def test_ingest_body_uses_the_contract_names() -> None:
    post = wire.Post(
        thread_id="abc-1", message_id="ho-1", published=NOW, content="hallo",
        sender=wire.Sender("Inwoner", "abc"), type=wire.PostType.NOTE, title="t",
        url="https://gemeente.example/afval",
        attachments=(Attachment("https://x.example/a.png", "a.png", "image/png"),),
        metadata={"tenant": "demo"},
    )
    assert wire.ingest_body("ch", post) == {
        "channelIdentifier": "ch", "threadId": "abc-1", "messageId": "ho-1",
        "published": NOW.isoformat(), "content": "hallo",
        "sender": {"username": "Inwoner", "userId": "abc"}, "type": "note", "title": "t",
        "url": "https://gemeente.example/afval",
        "attachments": [{"url": "https://x.example/a.png", "name": "a.png",
                         "mimeType": "image/png"}],
        "metadata": {"tenant": "demo"},
    }
    plain = wire.ingest_body("ch", wire.Post("t-1", "ho-2", NOW, "x", wire.Sender("a", "b")))
    assert "type" not in plain and "attachments" not in plain


def test_message_ids_are_stable_marked_and_distinct() -> None:
    a = wire.message_id("abc-1", "msg", "m1")
    assert a == wire.message_id("abc-1", "msg", "m1")
    assert a.startswith(wire.MESSAGE_ID_PREFIX) and len(a) == 43
    assert a != wire.message_id("abc-2", "msg", "m1")
    assert a != wire.message_id("abc-1", "msg", "m2")


def test_receipt_and_availability_answers() -> None:
    assert wire.ingest_receipt({"id": "obi-7"}) == "obi-7"
    assert wire.ingest_receipt({"id": 7}) == "7"
    assert wire.ingest_receipt({}) is None and wire.ingest_receipt(None) is None
    assert wire.parse_availability(
        {"available": True, "queueLength": 3, "estimatedWaitSeconds": 90.5}
    ) == Availability(True, 3, 90)
    assert wire.parse_availability(
        {"available": False, "queueLength": -1, "estimatedWaitSeconds": float("inf")}
    ) == Availability(False, None, None)
    with pytest.raises(wire.WireError):
        wire.parse_availability({"available": "yes"})


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=256), new=st.text(min_size=1, max_size=20),
       old=st.text(min_size=1, max_size=20), other=st.text(min_size=1, max_size=20))
def test_any_body_signed_with_either_rotation_secret_passes_and_no_other(
    body: bytes, new: str, old: str, other: str,
) -> None:
    secrets = (new, old)
    for secret in secrets:
        assert check(headers(secret=secret, body=body), body=body, secrets=secrets) == "ok"
    if other not in secrets:
        assert check(headers(secret=other, body=body), body=body, secrets=secrets) == "mismatch"
