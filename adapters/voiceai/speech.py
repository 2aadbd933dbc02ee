"""Turning the core's numbered options into speech and spoken choices back into numbers.

The core renders buttons as numbered lines ("1. Afval") on a channel without buttons and
maps a bare number in the answer back to the button's payload. On the phone the caller
may also *say* the number; speech recognition writes "twee" or "optie 2", so those are
turned into the digit before the core sees them, but only while options are offered.
"""

from __future__ import annotations

import re

_NUMBERED_LINE = re.compile(r"^\s*\d{1,2}\.\s", re.MULTILINE)
_WORDS = {
    # Dutch
    "een": 1, "één": 1, "eén": 1, "eerste": 1, "twee": 2, "tweede": 2, "drie": 3,
    "derde": 3, "vier": 4, "vierde": 4, "vijf": 5, "vijfde": 5, "zes": 6, "zesde": 6,
    "zeven": 7, "zevende": 7, "acht": 8, "achtste": 8, "negen": 9, "negende": 9,
    "tien": 10, "tiende": 10,
    # English
    "one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4,
    "fourth": 4, "five": 5, "fifth": 5, "six": 6, "sixth": 6, "seven": 7, "seventh": 7,
    "eight": 8, "eighth": 8, "nine": 9, "ninth": 9, "ten": 10, "tenth": 10,
}
_FILLERS = frozenset({"optie", "nummer", "keuze", "de", "het", "option", "number", "choice",
                      "the", "graag", "please", "uh", "eh"})


def has_options(text: str) -> bool:
    """Whether a text offers numbered options (as the core renders buttons)."""
    return bool(_NUMBERED_LINE.search(text))


def spoken_choice(text: str) -> str | None:
    """"twee", "optie 2", "the second one" -> "2"; None when the utterance is not just
    a choice (then it goes to the bot as said)."""
    words = [w for w in re.split(r"[\s.,!?]+", text.casefold()) if w and w not in _FILLERS]
    if words and words[-1] in ("one", "please"):
        words = words[:-1] or words
    if len(words) != 1:
        return None
    word = words[0]
    if word.isdigit():
        return str(int(word))
    number = _WORDS.get(word)
    return str(number) if number is not None else None
