"""When the KCC calls back, in words, and the references the citizen is told."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from handover.config.hours.moment import describe_callback_time
from handover.engine.registrations import REFERENCE_ALPHABET, new_reference

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Monday 07:00 in Amsterdam


@pytest.mark.parametrize(("opens", "nl", "en"), [
    (None, "zo snel mogelijk", "as soon as possible"),
    (datetime(2026, 3, 2, 8, 30, tzinfo=AMS), "vandaag vanaf 08:30", "today from 08:30"),
    (datetime(2026, 3, 3, 8, 30, tzinfo=AMS), "morgen vanaf 08:30", "tomorrow from 08:30"),
    (datetime(2026, 3, 9, 9, 0, tzinfo=AMS), "op maandag 9 maart vanaf 09:00",
     "on Monday 9 March from 09:00"),
])
def test_callback_time_in_words(opens: datetime | None, nl: str, en: str) -> None:
    assert describe_callback_time(opens, NOW, "nl") == nl
    assert describe_callback_time(opens, NOW, "en") == en
    assert describe_callback_time(opens, NOW, "pl") == en


def test_tomorrow_is_counted_in_the_hours_zone() -> None:
    # 23:30 UTC on Monday is already Tuesday 00:30 in Amsterdam.
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    opens = datetime(2026, 3, 3, 8, 30, tzinfo=AMS)
    assert describe_callback_time(opens, late, "nl") == "vandaag vanaf 08:30"


def test_references_use_only_unambiguous_characters() -> None:
    seen = {new_reference() for _ in range(500)}
    assert len(seen) == 500
    for reference in seen:
        assert len(reference) == 6 and set(reference) <= set(REFERENCE_ALPHABET)
    assert not set("0O1IL2Z5S8B6G") & set(REFERENCE_ALPHABET)
