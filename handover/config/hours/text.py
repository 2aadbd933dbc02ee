"""Opening hours as short prose for citizens ("ma t/m vr 08:30-17:00")."""

from __future__ import annotations

from typing import Any

from handover.config.hours.schedule import DAYS, DaySchedule, clock_text

# Words per language. Other languages fall back to English.
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


def describe_week(
    weekly: tuple[DaySchedule, ...],
    language: str,
    *,
    always: bool = False,
    closed_on_holidays: bool = False,
) -> str:
    """A weekly schedule (seven days, Monday first) as short text in `language`.

    Consecutive days with the same hours are grouped and closed days left out, e.g.
    "ma t/m vr 08:30-17:00, behalve op feestdagen" (nl) or "Mon-Fri 08:30-17:00, except
    public holidays" (en). Languages other than nl and en get English.
    """
    words = _WORDS.get(_primary_language(language), _WORDS["en"])
    if always:
        return str(words["always"])
    names: tuple[str, ...] = words["days"]
    parts: list[str] = []
    first = 0
    while first < len(DAYS):
        last = first
        while last + 1 < len(DAYS) and weekly[last + 1] == weekly[first]:
            last += 1
        schedule = weekly[first]
        if schedule:
            if first == last:
                days = names[first]
            else:
                template = words["pair"] if last == first + 1 else words["range"]
                days = template.format(first=names[first], last=names[last])
            times = words["and"].join(
                f"{clock_text(start)}-{clock_text(end)}" for start, end in schedule
            )
            parts.append(f"{days} {times}")
        first = last + 1
    if not parts:
        return str(words["closed"])
    text = "; ".join(parts)
    if closed_on_holidays:
        text += words["holidays"]
    return text


def _primary_language(language: str) -> str:
    """'nl-NL' and 'EN_gb' -> 'nl' and 'en'."""
    return language.replace("_", "-").split("-")[0].strip().lower()
