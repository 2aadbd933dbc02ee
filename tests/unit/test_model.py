"""The stored shapes of the model round-trip through JSON."""

from __future__ import annotations

from handover.model import HandoverSignal


def test_handover_signal_details_survive_the_round_trip_and_bad_details_are_dropped() -> None:
    signal = HandoverSignal(reason="bot", topic="afval", details={"intents": ["afval_ophalen"]})
    assert HandoverSignal.from_json(signal.to_json()) == signal
    assert "details" not in HandoverSignal().to_json()
    assert HandoverSignal.from_json({"details": ["not", "an", "object"]}).details == {}
