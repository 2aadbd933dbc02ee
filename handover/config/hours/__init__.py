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
before it is compared.

The package is split by concern:

- `schedule`: the data a schedule is made of (weekday keys, intervals in seconds);
- `parse`: reading and checking the configuration section;
- `opening`: `OpeningHours`, the arithmetic (is it open, when does it open or close),
  including the days the clocks change;
- `text`: the schedule as short prose for citizens.

Callers import `OpeningHours` (and the constants) from here.
"""

from handover.config.hours.opening import OpeningHours
from handover.config.hours.schedule import DAYS, DEFAULT_TIMEZONE, LOOKAHEAD

__all__ = ["DAYS", "DEFAULT_TIMEZONE", "LOOKAHEAD", "OpeningHours"]
