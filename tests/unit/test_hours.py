"""Opening hours: weekly schedule, holidays, exceptions, DST and config errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handover.config.hours import OpeningHours
from handover.sdk.contracts import ConfigIssues

AMS = ZoneInfo("Europe/Amsterdam")
PATH = "tenants.utrecht.hours"

WEEKDAYS = ["08:30-17:00"]
UTRECHT: dict[str, Any] = {
    "timezone": "Europe/Amsterdam",
    "holidays": "NL",
    "monday": WEEKDAYS,
    "tuesday": ["08:30-12:00", "13:00-17:00"],
    "wednesday": WEEKDAYS,
    "thursday": WEEKDAYS,
    "friday": WEEKDAYS,
    "saturday": [],
    "exceptions": {"2026-12-24": ["08:30-12:00"], "2026-12-31": []},
}


def hours(**overrides: Any) -> OpeningHours:
    return OpeningHours.from_config({**UTRECHT, **overrides}, PATH)


def ams(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    """A local Amsterdam time, handed over as UTC like the clock does."""
    return datetime(year, month, day, hour, minute, second, tzinfo=AMS).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def issues_of(section: Any) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        OpeningHours.from_config(section, PATH)
    return {issue.path: issue.message for issue in caught.value.issues}


# -- weekly schedule -------------------------------------------------------------------


def test_open_within_interval_half_open() -> None:
    h = hours()
    assert not h.is_open(ams(2026, 3, 2, 8, 29, 59))
    assert h.is_open(ams(2026, 3, 2, 8, 30))
    assert h.is_open(ams(2026, 3, 2, 16, 59, 59))
    assert not h.is_open(ams(2026, 3, 2, 17, 0))


def test_lunch_break_and_closed_days() -> None:
    h = hours()
    assert h.is_open(ams(2026, 3, 3, 11, 59))  # Tuesday
    assert not h.is_open(ams(2026, 3, 3, 12, 30))
    assert h.is_open(ams(2026, 3, 3, 13, 0))
    assert not h.is_open(ams(2026, 3, 7, 10, 0))  # Saturday: []
    assert not h.is_open(ams(2026, 3, 8, 10, 0))  # Sunday: missing


def test_utc_instant_is_converted_to_the_zone() -> None:
    h = hours()
    # 07:45 UTC is 08:45 in Amsterdam in winter: open, though 07:45 is before 08:30.
    assert h.is_open(utc(2026, 3, 2, 7, 45))
    # 16:30 UTC is 17:30 local: closed, though 16:30 is within 08:30-17:00.
    assert not h.is_open(utc(2026, 3, 2, 16, 30))


def test_other_time_zone() -> None:
    h = OpeningHours.from_config({"timezone": "America/New_York", "monday": WEEKDAYS}, PATH)
    assert h.is_open(utc(2026, 3, 2, 14, 0))  # 09:00 in New York
    assert not h.is_open(utc(2026, 3, 2, 9, 0))  # 04:00 in New York
    assert h.timezone == ZoneInfo("America/New_York")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        hours().is_open(datetime(2026, 3, 2, 10, 0))


def test_interval_until_midnight_and_lenient_spelling() -> None:
    h = OpeningHours.from_config(
        {"monday": ["12:00-24:00"], "tuesday": [" 8:00 - 9:30 "]}, PATH
    )
    assert h.is_open(ams(2026, 3, 2, 23, 59, 59))
    assert not h.is_open(ams(2026, 3, 3, 0, 0))
    assert h.is_open(ams(2026, 3, 3, 9, 0))


# -- holidays and exceptions -----------------------------------------------------------


def test_kings_day_2027_closed_with_nl_holidays() -> None:
    at = ams(2027, 4, 27, 10, 0)  # a Tuesday
    assert not hours().is_open(at)
    assert hours(holidays="").is_open(at)
    assert hours(holidays="nl").is_open(at) is False  # country code case does not matter


def test_christmas_closed() -> None:
    assert not hours().is_open(ams(2026, 12, 25, 10, 0))  # Friday, first Christmas Day
    assert hours(holidays="").is_open(ams(2026, 12, 25, 10, 0))


def test_liberation_day_follows_the_holidays_package() -> None:
    # The package lists Bevrijdingsdag only in lustrum years: 2025 yes, 2026 no.
    assert not hours().is_open(ams(2025, 5, 5, 10, 0))  # Monday
    assert hours().is_open(ams(2026, 5, 5, 10, 0))  # Tuesday


def test_exception_overrides_holiday_to_open() -> None:
    h = hours(exceptions={"2027-04-27": ["10:00-14:00"]})
    assert h.is_open(ams(2027, 4, 27, 11, 0))
    assert not h.is_open(ams(2027, 4, 27, 9, 0))


def test_exception_closes_a_normal_day_and_shortens_another() -> None:
    h = hours(exceptions={"2026-03-10": [], "2026-03-11": ["08:30-12:00"]})
    assert not h.is_open(ams(2026, 3, 10, 10, 0))
    assert h.is_open(ams(2026, 3, 11, 11, 0))
    assert not h.is_open(ams(2026, 3, 11, 13, 0))
    assert h.is_open(ams(2026, 3, 12, 13, 0))  # the day after is normal again


def test_configured_exceptions() -> None:
    h = hours()
    assert h.is_open(ams(2026, 12, 24, 11, 0))
    assert not h.is_open(ams(2026, 12, 24, 13, 0))
    assert not h.is_open(ams(2026, 12, 31, 10, 0))


# -- next_open and closes_at -----------------------------------------------------------


def test_next_open_when_open_is_now() -> None:
    at = ams(2026, 3, 2, 10, 0)
    assert hours().next_open(at) == at
    assert hours().next_open(at).tzinfo == AMS  # type: ignore[union-attr]


def test_next_open_friday_evening_is_monday_morning() -> None:
    opens = hours().next_open(ams(2026, 3, 6, 18, 0))
    assert opens == ams(2026, 3, 9, 8, 30)
    assert opens is not None
    assert opens.tzinfo == AMS
    assert (opens.hour, opens.minute) == (8, 30)


def test_next_open_across_christmas() -> None:
    # Thu 24 Dec (exception, until 12:00), Fri 25 and Sat 26 holidays, Sun closed.
    assert hours().next_open(ams(2026, 12, 24, 12, 0)) == ams(2026, 12, 28, 8, 30)


def test_next_open_during_lunch_and_before_opening() -> None:
    assert hours().next_open(ams(2026, 3, 3, 12, 15)) == ams(2026, 3, 3, 13, 0)
    assert hours().next_open(ams(2026, 3, 3, 6, 0)) == ams(2026, 3, 3, 8, 30)


def test_next_open_looks_ahead_fourteen_days_only() -> None:
    closed = OpeningHours.from_config({}, PATH)
    assert closed.next_open(ams(2026, 3, 2, 10, 0)) is None
    soon = OpeningHours.from_config({"exceptions": {"2026-03-12": ["09:00-10:00"]}}, PATH)
    assert soon.next_open(ams(2026, 3, 2, 10, 0)) == ams(2026, 3, 12, 9, 0)
    late = OpeningHours.from_config({"exceptions": {"2026-04-01": ["09:00-10:00"]}}, PATH)
    assert late.next_open(ams(2026, 3, 2, 10, 0)) is None


def test_closes_at() -> None:
    h = hours()
    assert h.closes_at(ams(2026, 3, 3, 10, 0)) == ams(2026, 3, 3, 12, 0)
    assert h.closes_at(ams(2026, 3, 3, 14, 0)) == ams(2026, 3, 3, 17, 0)
    assert h.closes_at(ams(2026, 3, 3, 12, 30)) is None
    closing = h.closes_at(ams(2026, 12, 24, 9, 0))
    assert closing == ams(2026, 12, 24, 12, 0)
    assert closing is not None
    assert closing.tzinfo == AMS


def test_touching_intervals_are_one_period() -> None:
    h = OpeningHours.from_config(
        {
            "monday": ["00:00-24:00"],
            "tuesday": ["00:00-12:00"],
            "wednesday": ["08:00-12:00", "12:00-17:00"],
        },
        PATH,
    )
    assert h.closes_at(ams(2026, 3, 2, 10, 0)) == ams(2026, 3, 3, 12, 0)
    assert h.closes_at(ams(2026, 3, 4, 10, 0)) == ams(2026, 3, 4, 17, 0)


def test_always_open() -> None:
    for h in (OpeningHours.always_open(), OpeningHours.from_config(None, PATH)):
        at = utc(2026, 12, 25, 3, 0)
        assert h.is_open(at)
        assert h.next_open(at) == at
        assert h.closes_at(at) is None
        assert h.describe("nl") == "altijd open"
        assert h.describe("en") == "always open"


def test_24_7_schedule_never_closes_within_lookahead() -> None:
    h = OpeningHours.from_config({day: ["00:00-24:00"] for day in (
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    )}, PATH)
    assert h.is_open(utc(2026, 3, 29, 1, 30))
    assert h.closes_at(utc(2026, 3, 29, 1, 30)) is None


# -- daylight saving time --------------------------------------------------------------


def test_dst_spring_forward_interval_in_local_time() -> None:
    # Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    h = OpeningHours.from_config({"sunday": ["01:00-05:00"]}, PATH)
    assert not h.is_open(utc(2026, 3, 28, 23, 59))  # 00:59 CET
    assert h.is_open(utc(2026, 3, 29, 0, 0))  # 01:00 CET
    assert h.is_open(utc(2026, 3, 29, 1, 0))  # 03:00 CEST, just after the jump
    assert h.is_open(utc(2026, 3, 29, 2, 59))  # 04:59 CEST
    assert not h.is_open(utc(2026, 3, 29, 3, 0))  # 05:00 CEST: only 3 real hours
    assert h.closes_at(utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 3, 0)


def test_dst_office_hours_on_summer_time_day() -> None:
    h = OpeningHours.from_config({"sunday": WEEKDAYS}, PATH)
    assert not h.is_open(utc(2026, 3, 29, 6, 29))
    assert h.is_open(utc(2026, 3, 29, 6, 30))  # 08:30 CEST
    assert not h.is_open(utc(2026, 3, 29, 15, 0))  # 17:00 CEST
    assert h.next_open(utc(2026, 3, 28, 20, 0)) == utc(2026, 3, 29, 6, 30)


def test_dst_fall_back_interval_spans_the_repeated_hour() -> None:
    # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
    h = OpeningHours.from_config({"sunday": ["01:00-05:00"]}, PATH)
    assert not h.is_open(utc(2026, 10, 24, 22, 59))  # 00:59 CEST
    assert h.is_open(utc(2026, 10, 24, 23, 0))  # 01:00 CEST
    assert h.is_open(utc(2026, 10, 25, 1, 30))  # 02:30 CET, second time round
    assert h.is_open(utc(2026, 10, 25, 3, 59))  # 04:59 CET
    assert not h.is_open(utc(2026, 10, 25, 4, 0))  # 05:00 CET: 5 real hours
    assert h.closes_at(utc(2026, 10, 24, 23, 30)) == utc(2026, 10, 25, 4, 0)


def test_dst_start_in_skipped_hour_opens_at_the_jump() -> None:
    h = OpeningHours.from_config({"sunday": ["02:30-04:00"]}, PATH)
    opens = h.next_open(utc(2026, 3, 28, 23, 0))
    assert opens == utc(2026, 3, 29, 1, 0)  # 03:00 CEST, when the clocks show >= 02:30
    assert opens is not None
    assert (opens.hour, opens.minute) == (3, 0)
    assert h.is_open(utc(2026, 3, 29, 1, 0))
    assert not h.is_open(utc(2026, 3, 29, 0, 59))


def test_dst_interval_wholly_in_skipped_hour_never_opens() -> None:
    h = OpeningHours.from_config({"sunday": ["02:00-03:00"]}, PATH)
    assert h.next_open(utc(2026, 3, 28, 23, 0)) == utc(2026, 4, 5, 0, 0)  # a week later


def test_dst_repeated_hour_is_not_a_closing() -> None:
    h = OpeningHours.from_config({"sunday": ["02:30-04:00"]}, PATH)
    opens = h.next_open(utc(2026, 10, 24, 23, 0))
    assert opens is not None
    # A time in the repeated hour never compares equal across zones (PEP 495), so
    # compare in UTC: the first 02:30, still summer time.
    assert opens.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert (opens.hour, opens.minute, opens.fold) == (2, 30, 0)
    assert h.is_open(utc(2026, 10, 25, 1, 10))  # 02:10 CET, between the two 02:30s
    assert h.closes_at(utc(2026, 10, 25, 0, 45)) == utc(2026, 10, 25, 3, 0)  # 04:00 CET


# -- describe --------------------------------------------------------------------------


def test_describe_mon_to_fri() -> None:
    h = OpeningHours.from_config({"holidays": "NL", **{d: WEEKDAYS for d in (
        "monday", "tuesday", "wednesday", "thursday", "friday"
    )}}, PATH)
    assert h.describe("nl") == "ma t/m vr 08:30-17:00, behalve op feestdagen"
    assert h.describe("en") == "Mon-Fri 08:30-17:00, except public holidays"
    assert h.describe("EN-gb") == h.describe("en")
    assert h.describe("de") == h.describe("en")


def test_describe_groups_and_split_days() -> None:
    h = hours(saturday=["10:00-12:00"], sunday=["10:00-12:00"], holidays="")
    assert h.describe("nl") == (
        "ma 08:30-17:00; di 08:30-12:00 en 13:00-17:00; wo t/m vr 08:30-17:00; "
        "za en zo 10:00-12:00"
    )
    assert h.describe("en") == (
        "Mon 08:30-17:00; Tue 08:30-12:00 and 13:00-17:00; Wed-Fri 08:30-17:00; "
        "Sat-Sun 10:00-12:00"
    )


def test_describe_merges_touching_intervals_and_closed() -> None:
    h = OpeningHours.from_config({"monday": ["12:00-17:00", "08:00-12:00"]}, PATH)
    assert h.describe("en") == "Mon 08:00-17:00"
    closed = OpeningHours.from_config({"holidays": "NL"}, PATH)
    assert closed.describe("nl") == "gesloten"
    assert closed.describe("en") == "closed"


# -- configuration errors --------------------------------------------------------------


def test_bad_interval_formats() -> None:
    found = issues_of({"monday": ["08:30-17:00", "25:00-26:00", "8-17", 9, "24:00-24:30",
                                  "08:00-24:01", "08:60-09:00"]})
    assert found == {
        f"{PATH}.monday[1]": "'25:00-26:00' is not a HH:MM-HH:MM interval",
        f"{PATH}.monday[2]": "'8-17' is not a HH:MM-HH:MM interval",
        f"{PATH}.monday[3]": "9 is not a HH:MM-HH:MM interval",
        f"{PATH}.monday[4]": "'24:00-24:30' is not a HH:MM-HH:MM interval",
        f"{PATH}.monday[5]": "'08:00-24:01' is not a HH:MM-HH:MM interval",
        f"{PATH}.monday[6]": "'08:60-09:00' is not a HH:MM-HH:MM interval",
    }


def test_end_not_after_start() -> None:
    found = issues_of({"friday": ["17:00-08:30", "10:00-10:00"]})
    assert set(found) == {f"{PATH}.friday[0]", f"{PATH}.friday[1]"}
    assert "end must be after the start" in found[f"{PATH}.friday[0]"]


def test_overlapping_intervals() -> None:
    found = issues_of({"tuesday": ["13:00-15:00", "08:00-12:00", "11:00-14:00"]})
    # Sorted: 08-12, 11-14 (overlaps 08-12), 13-15 (overlaps 11-14).
    assert found == {
        f"{PATH}.tuesday[2]": "'11:00-14:00' overlaps '08:00-12:00'",
        f"{PATH}.tuesday[0]": "'13:00-15:00' overlaps '11:00-14:00'",
    }


def test_unknown_keys_with_suggestions() -> None:
    found = issues_of({"mondya": [], "maandag": [], "timezon": "UTC", "colour": "red"})
    assert found == {
        f"{PATH}.mondya": "unknown key (did you mean 'monday'?)",
        f"{PATH}.maandag": "unknown key (did you mean 'monday'?)",
        f"{PATH}.timezon": "unknown key (did you mean 'timezone'?)",
        f"{PATH}.colour": "unknown key",
    }


def test_bad_timezone_and_country() -> None:
    found = issues_of({"timezone": "europe/amsterdam", "holidays": "XX"})
    assert found[f"{PATH}.timezone"] == (
        "unknown time zone 'europe/amsterdam' (did you mean 'Europe/Amsterdam'?)"
    )
    assert found[f"{PATH}.holidays"].startswith("unknown holiday country 'XX'")
    for zone in ("Mars/Olympus", "Europe", "", "../etc/passwd"):
        assert f"{PATH}.timezone" in issues_of({"timezone": zone})
    assert set(issues_of({"timezone": 1, "holidays": False})) == {
        f"{PATH}.timezone", f"{PATH}.holidays",
    }


def test_bad_exceptions() -> None:
    found = issues_of({"exceptions": {
        "24-12-2026": [], "2026-02-30": [], "20261224": [], "2026-12-24": "08:30-12:00",
        "2026-12-31": ["14:00-12:00"], "oud en nieuw": [],
    }})
    assert found == {
        f"{PATH}.exceptions.24-12-2026": "'24-12-2026' is not a date (use YYYY-MM-DD)",
        f"{PATH}.exceptions.2026-02-30": "'2026-02-30' is not a date (use YYYY-MM-DD)",
        f"{PATH}.exceptions.20261224": "'20261224' is not a date (use YYYY-MM-DD)",
        f"{PATH}.exceptions.2026-12-24": found[f"{PATH}.exceptions.2026-12-24"],
        f"{PATH}.exceptions.2026-12-31[0]": found[f"{PATH}.exceptions.2026-12-31[0]"],
        f'{PATH}.exceptions."oud en nieuw"': "'oud en nieuw' is not a date (use YYYY-MM-DD)",
    }
    assert found[f"{PATH}.exceptions.2026-12-24"].startswith("expected a list")
    assert "exceptions" in issues_of({"exceptions": ["2026-12-24"]}).popitem()[0]


def test_wrong_shapes() -> None:
    assert issues_of(["monday"]) == {PATH: "expected a table of opening hours"}
    found = issues_of({"monday": "08:30-17:00", "tuesday": {"from": "08:30"}})
    assert set(found) == {f"{PATH}.monday", f"{PATH}.tuesday"}


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigIssues) as caught:
        OpeningHours.from_config({
            "timezone": "Nowhere/Town",
            "holidays": "ZZ",
            "monday": ["25:00-26:00"],
            "tuesday": ["08:00-12:00", "11:00-13:00"],
            "wednesday": ["17:00-09:00"],
            "sundae": [],
            "exceptions": {"christmas": []},
        }, PATH)
    paths = [issue.path for issue in caught.value.issues]
    assert sorted(paths) == sorted([
        f"{PATH}.timezone", f"{PATH}.holidays", f"{PATH}.monday[0]", f"{PATH}.tuesday[1]",
        f"{PATH}.wednesday[0]", f"{PATH}.sundae", f"{PATH}.exceptions.christmas",
    ])
    assert f"{PATH}.monday[0]: '25:00-26:00' is not a HH:MM-HH:MM interval" in str(
        caught.value
    ).splitlines()


def test_defaults_and_empty_section() -> None:
    h = OpeningHours.from_config({"monday": WEEKDAYS}, PATH)
    assert h.timezone == AMS
    assert h.is_open(ams(2027, 4, 26, 10, 0))  # the day before Koningsdag: a Monday
    assert h.is_open(ams(2026, 4, 6, 10, 0))  # Easter Monday: no holidays by default
    nothing = OpeningHours.from_config({}, PATH)
    start = ams(2026, 3, 2, 0, 0)
    assert not any(nothing.is_open(start + timedelta(hours=n)) for n in range(0, 24 * 7, 1))


def test_the_parts_of_the_hours_package_work_on_their_own() -> None:
    # Parsing and prose are separate modules: the parsed section describes itself
    # without an OpeningHours, and the package still exports the schedule's constants.
    from handover.config.hours import DAYS, DEFAULT_TIMEZONE, LOOKAHEAD
    from handover.config.hours.parse import parse_hours_section
    from handover.config.hours.text import describe_week

    parsed = parse_hours_section({"monday": ["8:30 - 12:00", "12:00-17:00"]}, PATH)
    assert parsed.zone == ZoneInfo(DEFAULT_TIMEZONE)
    assert len(parsed.weekly) == len(DAYS)
    assert timedelta(days=14) == LOOKAHEAD
    assert parsed.weekly[0] == ((8 * 3600 + 30 * 60, 17 * 3600),)  # touching ones merged
    assert describe_week(parsed.weekly, "nl") == "ma 08:30-17:00"
    assert describe_week(parsed.weekly, "en", closed_on_holidays=True) == (
        "Mon 08:30-17:00, except public holidays"
    )
    with pytest.raises(ConfigIssues):
        parse_hours_section(["monday"], PATH)
