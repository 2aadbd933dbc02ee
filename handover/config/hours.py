"""Opening hours of a municipality's contact centre (KCC).

A tenant's `[tenants.<name>.hours]` section says when employees can take a chat: a
weekly schedule of wall-clock intervals in one IANA time zone, closed on the public
holidays of a country, with date-specific exceptions that win over both::

    [tenants.utrecht.hours]
    timezone = "Europe/Amsterdam"      # default Europe/Amsterdam
    holidays = "NL"                    # `holidays` package country code; "" = none
    monday = ["08:30-17:00"]           # missing day or [] = closed
    tuesday = ["08:30-12:00", "13:00-17:00"]
    [tenants.utrecht.hours.exceptions]
    "2026-12-24" = ["08:30-12:00"]
    "2026-12-31" = []

Intervals are half-open, `[start, end)`, in local wall-clock time of their own date; an
interval may end at "24:00" but never runs past midnight (continue the next day at
"00:00" instead). The schedule is wall-clock time: "08:30" means 08:30 on the clocks of
the town hall, winter and summer alike, so every instant is converted to the zone
before it is compared. Each interval maps to one unbroken stretch of real time, also on
the days the clocks change (see `OpeningHours._periods`).

Everything is pure computation over an aware `datetime` handed in by the caller (the
core's `Clock`), so it is deterministic in tests.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays

from handover.sdk.contracts import ConfigIssue, ConfigIssues

__all__ = ["DAYS", "DEFAULT_TIMEZONE", "LOOKAHEAD", "OpeningHours"]

#: Weekday keys of the config section, in `date.weekday()` order.
DAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
DEFAULT_TIMEZONE = "Europe/Amsterdam"
#: How far `next_open` and `closes_at` look ahead before giving up.
LOOKAHEAD = timedelta(days=14)

_DAY_SECONDS = 24 * 3600
_OTHER_KEYS = ("timezone", "holidays", "exceptions")
# Operators of Dutch municipalities may well type the Dutch day names: point them at
# the right key instead of leaving them with a bare "unknown key".
_DUTCH_DAYS = {
    "maandag": "monday", "dinsdag": "tuesday", "woensdag": "wednesday",
    "donderdag": "thursday", "vrijdag": "friday", "zaterdag": "saturday",
    "zondag": "sunday",
}
# Lenient on whitespace and a one-digit hour ("8:30 - 17:00"), strict on the rest.
_INTERVAL_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")

#: One open interval: seconds since local midnight, start inclusive, end exclusive.
Interval = tuple[int, int]
DaySchedule = tuple[Interval, ...]


# Words for `describe`, per language. Other languages fall back to English.
_WORDS: dict[str, dict[str, Any]] = {
    "nl": {
        "days": ("ma", "di", "wo", "do", "vr", "za", "zo"),
        "range": "{first} t/m {last}",
        "pair": "{first} en {last}",
        "and": " en ",
        "closed": "gesloten",
        "always": "altijd open",
        "holidays": ", behalve op feestdagen",
    },
    "en": {
        "days": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "range": "{first}-{last}",
        "pair": "{first}-{last}",
        "and": " and ",
        "closed": "closed",
        "always": "always open",
        "holidays": ", except public holidays",
    },
}


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
            weekly=tuple(((0, _DAY_SECONDS),) for _ in DAYS),
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
        if not isinstance(section, Mapping):
            raise ConfigIssues([ConfigIssue(path, "expected a table of opening hours")])

        issues: list[ConfigIssue] = []
        for key in section:
            if key not in DAYS and key not in _OTHER_KEYS:
                issues.append(ConfigIssue(_join(path, str(key)), _unknown_key(str(key))))

        zone = _parse_timezone(section.get("timezone", DEFAULT_TIMEZONE),
                               _join(path, "timezone"), issues)
        country = _parse_country(section.get("holidays", ""), _join(path, "holidays"), issues)

        weekly = tuple(
            _parse_day(section.get(day, []), _join(path, day), issues) for day in DAYS
        )

        exceptions: dict[date, DaySchedule] = {}
        raw_exceptions = section.get("exceptions", {})
        exceptions_path = _join(path, "exceptions")
        if not isinstance(raw_exceptions, Mapping):
            issues.append(ConfigIssue(
                exceptions_path, 'expected a table of dates, e.g. "2026-12-24" = ["08:30-12:00"]'
            ))
        else:
            for key, value in raw_exceptions.items():
                key_path = _join(exceptions_path, str(key))
                day = _parse_date(key)
                if day is None:
                    issues.append(ConfigIssue(key_path, f"{key!r} is not a date (use YYYY-MM-DD)"))
                schedule = _parse_day(value, key_path, issues)
                if day is not None:
                    exceptions[day] = schedule

        if issues:
            raise ConfigIssues(issues)
        assert zone is not None  # no issues means the zone parsed
        return cls(zone=zone, weekly=weekly, exceptions=exceptions, holiday_country=country)

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
        words = _WORDS.get(_primary_language(language), _WORDS["en"])
        if self._always:
            return str(words["always"])
        names: tuple[str, ...] = words["days"]
        parts: list[str] = []
        first = 0
        while first < len(DAYS):
            last = first
            while last + 1 < len(DAYS) and self._weekly[last + 1] == self._weekly[first]:
                last += 1
            schedule = self._weekly[first]
            if schedule:
                if first == last:
                    days = names[first]
                else:
                    template = words["pair"] if last == first + 1 else words["range"]
                    days = template.format(first=names[first], last=names[last])
                times = words["and"].join(
                    f"{_clock(start)}-{_clock(end)}" for start, end in schedule
                )
                parts.append(f"{days} {times}")
            first = last + 1
        if not parts:
            return str(words["closed"])
        text = "; ".join(parts)
        if self._holiday_country:
            text += words["holidays"]
        return text

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
        if second >= _DAY_SECONDS:  # 24:00 is the next date's midnight
            day, second = day + timedelta(days=1), second - _DAY_SECONDS
        wall = datetime.combine(day, _time_of(second))
        # fold=0 picks the earlier of a repeated time; for a skipped time it gives the
        # pre-jump offset, which lands after the jump: the round trip shows that case.
        instant = wall.replace(tzinfo=self._zone).astimezone(UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) != wall:
            jump = _offset_change_on(day, self._zone)
            if jump is not None:
                return jump
        return instant


# -- parsing helpers ---------------------------------------------------------------


def _parse_timezone(value: object, path: str, issues: list[ConfigIssue]) -> ZoneInfo | None:
    if not isinstance(value, str):
        issues.append(ConfigIssue(path, 'expected a time zone name such as "Europe/Amsterdam"'))
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory such as "Europe" is found but is not a zone file.
        hint = _suggest(value, sorted(available_timezones()))
        issues.append(ConfigIssue(path, f"unknown time zone {value!r}{hint}"))
        return None


def _parse_country(value: object, path: str, issues: list[ConfigIssue]) -> str | None:
    if not isinstance(value, str):
        issues.append(ConfigIssue(path, 'expected a country code such as "NL", or "" for none'))
        return None
    code = value.strip().upper()
    if not code:
        return None
    if code not in holidays.list_supported_countries():
        issues.append(ConfigIssue(
            path, f'unknown holiday country {value!r} (use a country code such as "NL", '
                  'or "" to stay open on public holidays)'
        ))
        return None
    return code


def _parse_date(key: object) -> date | None:
    # date.fromisoformat also takes "20261224" and week dates; insist on one spelling.
    if not isinstance(key, str) or not _DATE_RE.fullmatch(key):
        return None
    try:
        return date.fromisoformat(key)
    except ValueError:
        return None


def _parse_day(value: object, path: str, issues: list[ConfigIssue]) -> DaySchedule:
    """Parse one day's list of intervals: sorted, checked for overlap, touching ones merged.

    Invalid items are reported and skipped so that the remaining ones are still checked.
    """
    if not isinstance(value, list):
        issues.append(ConfigIssue(
            path, 'expected a list of "HH:MM-HH:MM" intervals, e.g. ["08:30-17:00"] '
                  "([] = closed)"
        ))
        return ()
    parsed: list[tuple[int, int, int, str]] = []  # start, end, index, text
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        interval = _parse_interval(item)
        if interval is None:
            issues.append(ConfigIssue(
                item_path, f"{item!r} is not a HH:MM-HH:MM interval"
            ))
            continue
        start, end = interval
        if end <= start:
            issues.append(ConfigIssue(
                item_path, f"{item!r}: the end must be after the start (an interval cannot "
                           'pass midnight: end it at "24:00" and go on at "00:00" the next day)'
            ))
            continue
        parsed.append((start, end, index, str(item)))

    parsed.sort()
    merged: list[Interval] = []
    previous: tuple[int, int, int, str] | None = None
    for start, end, index, text in parsed:
        if previous is not None and start < previous[1]:
            issues.append(ConfigIssue(
                f"{path}[{index}]", f"{text!r} overlaps {previous[3]!r}"
            ))
            # Compare what follows with whichever of the two reaches furthest, so a
            # third interval overlapping the rejected one is reported too.
            if end > previous[1]:
                previous = (start, end, index, text)
            continue
        if merged and merged[-1][1] == start:
            # "08:00-12:00", "12:00-17:00" is one open period: merging keeps
            # closes_at and describe from splitting it.
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
        previous = (start, end, index, text)
    return tuple(merged)


def _parse_interval(item: object) -> Interval | None:
    if not isinstance(item, str):
        return None
    match = _INTERVAL_RE.fullmatch(item)
    if match is None:
        return None
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59:
        return None
    # 24:00 is allowed as an end only: the end of the day.
    if end_h > 24 or (end_h == 24 and end_m != 0):
        return None
    return start_h * 3600 + start_m * 60, end_h * 3600 + end_m * 60


def _unknown_key(key: str) -> str:
    if key.lower() in _DUTCH_DAYS:
        return f"unknown key (did you mean {_DUTCH_DAYS[key.lower()]!r}?)"
    return "unknown key" + _suggest(key, [*DAYS, *_OTHER_KEYS])


def _suggest(word: str, candidates: list[str]) -> str:
    """A ' (did you mean ...?)' hint, or '' when nothing is close."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1)
    return f" (did you mean {lowered[matches[0]]!r}?)" if matches else ""


def _join(path: str, key: str) -> str:
    """Append a key to a dotted path, quoting it the TOML way when it is not a bare key."""
    if _BARE_KEY_RE.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}.{json.dumps(key, ensure_ascii=False)}"


# -- time helpers ------------------------------------------------------------------


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"opening hours need a timezone-aware datetime, got {at!r}")


def _time_of(second: int) -> time:
    return time(second // 3600, second % 3600 // 60, second % 60)


def _clock(second: int) -> str:
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}"


def _primary_language(language: str) -> str:
    """'nl-NL' and 'EN_gb' -> 'nl' and 'en'."""
    return language.replace("_", "-").split("-")[0].strip().lower()


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
