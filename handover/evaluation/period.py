"""The period an evaluation command covers: whole days in Europe/Amsterdam."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Municipal days start at midnight in the Netherlands, not in UTC.
ZONE = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True, slots=True)
class Period:
    """[since, until) as aware datetimes, and the days it was given as."""

    first: date
    last: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), ZONE)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), ZONE)

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def parse_period(text: str) -> Period:
    """A period as `2026-03` (a month), `2026-03-02` (a day) or `2026-03-01..2026-03-31`
    (both days included). Raises ValueError with what was expected."""
    text = text.strip()
    try:
        if ".." in text:
            first_text, _, last_text = text.partition("..")
            first, last = date.fromisoformat(first_text), date.fromisoformat(last_text)
        elif len(text) == len("2026-03"):
            first = date.fromisoformat(text + "-01")
            next_month = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            last = next_month - timedelta(days=1)
        else:
            first = last = date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"period {text!r}: expected YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
        ) from None
    if last < first:
        raise ValueError(f"period {text!r}: the last day is before the first")
    return Period(first, last)
