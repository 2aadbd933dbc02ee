"""The stored shapes of the model round-trip through JSON."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from handover.model import Attachment, Content, HandoverSignal, Party, TranscriptEntry


def test_handover_signal_details_survive_the_round_trip_and_bad_details_are_dropped() -> None:
    signal = HandoverSignal(reason="bot", topic="afval", details={"intents": ["afval_ophalen"]})
    assert HandoverSignal.from_json(signal.to_json()) == signal
    assert "details" not in HandoverSignal().to_json()
    assert HandoverSignal.from_json({"details": ["not", "an", "object"]}).details == {}


def test_transcript_entries_round_trip_without_their_conversation_and_handover() -> None:
    entry = TranscriptEntry(
        conversation_id="c1",
        seq=4,
        party=Party.AGENT,
        content=Content(text="Hallo", attachments=(Attachment("https://x/a.pdf", "a.pdf"),)),
        message_id="m4",
        sender_name="Anna",
        created_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        handover_no=2,
    )
    data = entry.to_json()
    assert list(data) == ["seq", "message_id", "party", "sender_name", "content", "created_at"]
    back = TranscriptEntry.from_json("c1", data)
    assert back == replace(entry, handover_no=0)
    assert TranscriptEntry.from_json("c1", {**data, "created_at": None}).created_at is None
