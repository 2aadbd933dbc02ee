"""Reading a `[tenants.<name>.hours]` section: every problem reported with its path.

Operators edit these sections by hand, so the parser is lenient where it costs nothing
(whitespace, a one-digit hour) and strict everywhere else, reports all problems at
once (list items as `monday[1]`, counting from 0), and suggests the key that was
probably meant.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays

from handover.config.hours.schedule import DAYS, DEFAULT_TIMEZONE, DaySchedule, Interval
from handover.sdk.contracts import ConfigIssue, ConfigIssues

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


@dataclass(frozen=True, slots=True)
class HoursSection:
    """A checked hours section: what `OpeningHours` is built from."""

    zone: ZoneInfo
    #: Seven schedules, Monday first.
    weekly: tuple[DaySchedule, ...]
    exceptions: Mapping[date, DaySchedule] = field(default_factory=dict)
    #: A `holidays` package country code, or None for no public holidays.
    holiday_country: str | None = None


def parse_hours_section(section: object, path: str) -> HoursSection:
    """Check one hours section (a TOML table) found at the dotted `path`.

    Raises ConfigIssues listing every problem at once, each with its dotted path.
    """
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
    return HoursSection(zone=zone, weekly=weekly, exceptions=exceptions,
                        holiday_country=country)


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
