"""What an opening-hours schedule is made of: weekday keys and intervals in seconds.

The leaf of the hours package: parsing, arithmetic and prose all build on these
definitions and on nothing of each other's.
"""

from __future__ import annotations

from datetime import time, timedelta

#: Weekday keys of the config section, in `date.weekday()` order.
DAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
DEFAULT_TIMEZONE = "Europe/Amsterdam"
#: How far `next_open` and `closes_at` look ahead before giving up.
LOOKAHEAD = timedelta(days=14)

DAY_SECONDS = 24 * 3600

#: One open interval: seconds since local midnight, start inclusive, end exclusive.
Interval = tuple[int, int]
#: One day's intervals: sorted, not overlapping, touching ones merged.
DaySchedule = tuple[Interval, ...]


def time_of(second: int) -> time:
    """The wall-clock time `second` seconds after midnight (below 24:00)."""
    return time(second // 3600, second % 3600 // 60, second % 60)


def clock_text(second: int) -> str:
    """"HH:MM" for seconds since midnight; 86400 is "24:00", the end of the day."""
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}"
