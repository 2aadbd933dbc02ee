"""`OpeningHours`: when a contact centre is open, and when it opens or closes next.

Everything is pure computation over an aware `datetime` handed in by the caller (the
core's `Clock`), so it is deterministic in tests. Each interval of the schedule maps to
one unbroken stretch of real time, also on the days the clocks change (see
`OpeningHours._periods`). The configuration format is described in the package
docstring; parsing is in `parse`, the prose in `text`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from handover.config.hours.parse import parse_hours_section
from handover.config.hours.schedule import (
    DAY_SECONDS,
    DAYS,
    DEFAULT_TIMEZONE,
    LOOKAHEAD,
    DaySchedule,
    time_of,
)
from handover.config.hours.text import describe_week

__all__ = ["OpeningHours"]


class OpeningHours:
    """When a contact centre is open, in its own time zone.

    Build one with `from_config` (or `always_open` for a 24/7 desk). All queries take a
    timezone-aware `datetime`; answers are aware datetimes in the configured zone.
    """

    def __init__(
        self,
        *,
        zone: ZoneInfo,
        weekly: tuple[DaySchedule, ...],
        exceptions: Mapping[date, DaySchedule] | None = None,
        holiday_country: str | None = None,
        always: bool = False,
    ) -> None:
        """Low-level constructor; prefer `from_config` or `always_open`.

        `weekly` holds seven sorted, non-overlapping schedules, Monday first.
        """
        if len(weekly) != len(DAYS):
            raise ValueError("weekly needs one schedule per weekday, Monday first")
        self._zone = zone
        self._weekly = weekly
        self._exceptions = dict(exceptions or {})
        self._holiday_country = holiday_country
        self._always = always
        # The holidays package computes a whole year at a time; keep each year we met.
        self._holiday_years: dict[int, holidays.HolidayBase] = {}

    # -- construction -------------------------------------------------------------

    @classmethod
    def always_open(cls) -> OpeningHours:
        """A desk that never closes (no `hours` section in the configuration)."""
        return cls(
            zone=ZoneInfo(DEFAULT_TIMEZONE),
            weekly=tuple(((0, DAY_SECONDS),) for _ in DAYS),
            always=True,
        )

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, path: str) -> OpeningHours:
        """Parse a `[tenants.<name>.hours]` section; None means always open.

        Raises ConfigIssues listing every problem at once, each with its dotted path
        (list items as `monday[1]`, counting from 0).
        """
        if section is None:
            return cls.always_open()
        parsed = parse_hours_section(section, path)
        return cls(zone=parsed.zone, weekly=parsed.weekly, exceptions=parsed.exceptions,
                   holiday_country=parsed.holiday_country)

    # -- queries ------------------------------------------------------------------

    @property
    def timezone(self) -> ZoneInfo:
        """The zone the schedule's wall-clock times are in."""
        return self._zone

    def is_open(self, at: datetime) -> bool:
        """Whether the contact centre is open at the instant `at` (timezone-aware)."""
        _require_aware(at)
        if self._always:
            return True
        # A date's periods all lie within that local date, so only `at`'s own date counts.
        day = at.astimezone(self._zone).date()
        return any(start <= at < end for start, end in self._periods(day, day))

    def next_open(self, at: datetime) -> datetime | None:
        """The first moment at or after `at` when it is open, in the configured zone.

        Returns `at` itself (converted to the zone) when open now, and None when it does
        not open within `LOOKAHEAD` (14 days). Compare results in UTC: Python never
        finds a time in the repeated autumn hour equal to one in another zone (PEP 495).
        """
        if self.is_open(at):
            return at.astimezone(self._zone)
        horizon = at + LOOKAHEAD
        first_day = at.astimezone(self._zone).date()
        for start, _end in self._periods(first_day, horizon.astimezone(self._zone).date()):
            if start > at:  # closed now, so the first later start is the opening
                return start.astimezone(self._zone) if start <= horizon else None
        return None

    def closes_at(self, at: datetime) -> datetime | None:
        """When the open period around `at` ends, in the configured zone.

        Periods that touch (a day open until 24:00 and the next from 00:00) count as one.
        Returns None when closed at `at`, and also when it does not close within
        `LOOKAHEAD` (e.g. always open): use `is_open` to tell these apart.
        """
        _require_aware(at)
        if self._always:
            return None
        horizon = at + LOOKAHEAD
        first_day = at.astimezone(self._zone).date()
        # One day past the horizon: a period ending at its midnight may go on.
        last_day = horizon.astimezone(self._zone).date() + timedelta(days=1)
        closing: datetime | None = None
        for start, end in self._periods(first_day, last_day):
            if closing is None:
                if start <= at < end:
                    closing = end
                elif start > at:
                    return None  # closed now
            elif start == closing:
                closing = end
            else:
                break
        if closing is None or closing > horizon:
            return None
        return closing.astimezone(self._zone)

    def describe(self, language: str) -> str:
        """The weekly schedule as short text for citizens.

        For example "ma t/m vr 08:30-17:00, behalve op feestdagen" (nl) or
        "Mon-Fri 08:30-17:00, except public holidays" (en). Consecutive days with the
        same hours are grouped; closed days are left out. Date exceptions are not
        mentioned. Languages other than nl and en get English.
        """
        return describe_week(self._weekly, language, always=self._always,
                             closed_on_holidays=bool(self._holiday_country))

    def __repr__(self) -> str:
        if self._always:
            return "OpeningHours.always_open()"
        return (
            f"OpeningHours(zone={self._zone.key!r}, holidays={self._holiday_country!r}, "
            f"weekly={self._weekly!r}, exceptions={len(self._exceptions)})"
        )

    # -- internals ----------------------------------------------------------------

    def _schedule_on(self, day: date) -> DaySchedule:
        """The intervals of one local date: exception, else holiday (closed), else weekday."""
        exception = self._exceptions.get(day)
        if exception is not None:
            return exception
        if self._is_holiday(day):
            return ()
        return self._weekly[day.weekday()]

    def _is_holiday(self, day: date) -> bool:
        if not self._holiday_country:
            return False
        calendar = self._holiday_years.get(day.year)
        if calendar is None:
            calendar = holidays.country_holidays(self._holiday_country, years=day.year)
            self._holiday_years[day.year] = calendar
        return day in calendar

    def _periods(self, first_day: date, last_day: date) -> Iterator[tuple[datetime, datetime]]:
        """The open periods of local dates `first_day`..`last_day` as UTC instants, in order.

        An interval "HH:MM-HH:MM" of date D is open from the first instant the clocks
        show its start on D until the first instant they show its end. On ordinary days
        that is just the two wall-clock times. On DST days it keeps an interval one
        unbroken stretch of real time: a start that the clocks skip (02:30 on the last
        Sunday of March) opens when they jump, and a time they show twice (02:30 on the
        last Sunday of October) counts from its first showing, so the repeated hour
        does not close an interval that spans it.
        """
        day = first_day
        while day <= last_day:
            for start, end in self._schedule_on(day):
                opens, closes = self._instant(day, start), self._instant(day, end)
                if opens < closes:  # an interval wholly inside a skipped hour never opens
                    yield opens, closes
            day += timedelta(days=1)

    def _instant(self, day: date, second: int) -> datetime:
        """The first UTC instant at which the local clocks show `second` on `day` or later."""
        if second >= DAY_SECONDS:  # 24:00 is the next date's midnight
            day, second = day + timedelta(days=1), second - DAY_SECONDS
        wall = datetime.combine(day, time_of(second))
        # fold=0 picks the earlier of a repeated time; for a skipped time it gives the
        # pre-jump offset, which lands after the jump: the round trip shows that case.
        instant = wall.replace(tzinfo=self._zone).astimezone(UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) != wall:
            jump = _offset_change_on(day, self._zone)
            if jump is not None:
                return jump
        return instant


# -- time helpers ------------------------------------------------------------------


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"opening hours need a timezone-aware datetime, got {at!r}")


def _offset_change_on(day: date, zone: ZoneInfo) -> datetime | None:
    """The UTC instant the zone's offset changes during local `day`, or None.

    zoneinfo does not expose its transitions, so compare the offsets at both
    midnights and binary-search the second in between (DST days only, so rare).
    """
    low = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    high = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    before = low.astimezone(zone).utcoffset()
    if before == high.astimezone(zone).utcoffset():
        return None
    low_ts, high_ts = int(low.timestamp()), int(high.timestamp())
    while high_ts - low_ts > 1:
        middle = (low_ts + high_ts) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low_ts = middle
        else:
            high_ts = middle
    return datetime.fromtimestamp(high_ts, UTC)
