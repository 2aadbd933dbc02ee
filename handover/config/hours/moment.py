"""When the contact centre can call back, as words for the citizen ("morgen vanaf 08:30")."""

from __future__ import annotations

from datetime import datetime, timedelta

_DAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}
_PHRASES = {
    "nl": {"soon": "zo snel mogelijk", "today": "vandaag vanaf {time}",
           "tomorrow": "morgen vanaf {time}", "later": "op {day} {date} {month} vanaf {time}"},
    "en": {"soon": "as soon as possible", "today": "today from {time}",
           "tomorrow": "tomorrow from {time}", "later": "on {day} {date} {month} from {time}"},
}


def describe_callback_time(opens: datetime | None, now: datetime, language: str) -> str:
    """`opens` (the next opening, in the hours' zone; None when unknown or open now)
    relative to `now`, in `language` (nl, else English)."""
    lang = "nl" if language.split("-")[0] == "nl" else "en"
    phrases = _PHRASES[lang]
    if opens is None or opens <= now:
        return phrases["soon"]
    local_now = now.astimezone(opens.tzinfo)
    time = opens.strftime("%H:%M")
    if opens.date() == local_now.date():
        return phrases["today"].format(time=time)
    if opens.date() == local_now.date() + timedelta(days=1):
        return phrases["tomorrow"].format(time=time)
    return phrases["later"].format(
        day=_DAYS[lang][opens.weekday()], date=opens.day,
        month=_MONTHS[lang][opens.month - 1], time=time,
    )
