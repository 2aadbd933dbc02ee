"""`handover report` counts callback requests by the step they reached."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from handover.evaluation.period import parse_period
from handover.evaluation.report import ALL, Report, render_text, tally
from handover.model import HandoverEvent

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ev(conv: str, event: str, channel: str = "web", reason: str | None = None) -> HandoverEvent:
    return HandoverEvent(conv, "t", channel, 1, event, AT, reason=reason)


def test_callback_requests_are_counted_per_step_and_channel() -> None:
    events = [
        ev("a", "outside_hours"), ev("a", "callback_offered", reason="outside_hours"),
        ev("a", "callback_completed"), ev("a", "callback_registered", reason="openklant"),
        ev("a", "callback_registered", reason="console"),
        ev("b", "unavailable"), ev("b", "callback_offered", reason="unavailable"),
        ev("b", "callback_declined"),
        ev("c", "callback_offered", "phone"), ev("c", "callback_abandoned", "phone"),
    ]  # fmt: skip
    reports = tally({"web": 2, "phone": 1}, events, [])
    assert reports["web"].callbacks == {
        "offered": 2, "completed": 1, "declined": 1, "abandoned": 0, "registered": 2,
    }
    assert reports["phone"].callbacks["abandoned"] == 1
    assert reports[ALL].callbacks["offered"] == 3
    # Offering a callback is not a handover.
    assert reports[ALL].handed_over == 0
    report = Report("t", parse_period("2026-03-02"), reports)
    data = json.loads(json.dumps(report.to_json()))
    assert data["channels"]["web"]["callback_requests"]["completed"] == 1
    lines = {line.split("  ")[0].strip(): line.split() for line in
             render_text(report).splitlines()[2:]}
    assert lines["callback requests offered"][-3:] == ["3", "1", "2"]
    assert lines["callback requests registered"][-1] == "2"
