"""Masking of personal data in free text, for logs.

Privacy rule of the project: no BSN, IBAN, phone number or e-mail address may appear in
a log line. `redact` runs on every string that reaches a log line, so it is built to be
cheap on the common case (a short line without any digit or ``@`` returns after a single
scan) and to stay linear on hostile input: every pattern is anchored at the start of a
token by a look-behind, uses bounded or possessive repetition, and the validation that
regexes cannot express (11-proef, mod-97, digit counts) is done in Python on the small
candidate that matched.

Order of the passes matters: e-mail first (an address may contain digit runs that look
like a BSN or a phone number), then IBAN (an IBAN contains long digit runs), then BSN,
then phone numbers. Each pass replaces its findings with a marker without digits, so
later passes cannot re-match them.

Before the passes, in text that is not plain ASCII, digits of any script (full-width,
Arabic-Indic...) are read as ASCII digits, full-width signs as their ASCII
forms and Unicode dashes as "-", character for character; and a percent-encoded at
sign (``%40``, as in a logged query string) is read as "@". A line in which something
was masked may therefore show such characters in their plain form; a line with nothing
to mask is returned exactly as written.

Known limits, accepted because a false positive only hides a harmless value:
- A date followed by a small number (``06-12-2026 10 uur``) can add up to ten digits
  starting with ``0`` and is then masked as a phone number.
- Any 9-digit number that happens to pass the 11-proef (one in eleven) is masked as a
  BSN, and any IBAN-shaped word passing mod-97 (one in 97) as an IBAN.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["redact", "redact_value"]

BSN_MASK = "[BSN]"
IBAN_MASK = "[IBAN]"
PHONE_MASK = "[PHONE]"
EMAIL_MASK = "[EMAIL]"

# Cheap pre-check: every category needs a digit except e-mail, which needs an "@" (or
# its percent-encoding). Text that is not ASCII is normalised first, see `_plain`.
_NEEDS_WORK = re.compile(r"[0-9@]|%40")
_PERCENT_AT = re.compile(r"%40", re.IGNORECASE)
# Hyphen, non-breaking hyphen, figure dash, en and em dash, horizontal bar, minus sign:
# citizens' keyboards and word processors put them between digit groups.
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_FULL_WIDTH = range(0xFF01, 0xFF5F)  # U+FF01..FF5E mirror ASCII 0x21..0x7E


class _PlainChars(dict[int, str]):
    """A `str.translate` table computed per character on first use: one character in,
    one out, so the text keeps its length and everything else stays as written."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            plain = str(digit)
        elif code in _FULL_WIDTH:
            plain = chr(code - 0xFEE0)
        elif char in _DASHES:
            plain = "-"
        else:
            plain = char
        self[code] = plain
        return plain


_PLAIN_CHARS = _PlainChars()

# --- e-mail ----------------------------------------------------------------------------
# The look-behind makes a match start only at the beginning of a run of address
# characters, and the possessive quantifiers (Python 3.11+) forbid backtracking into the
# runs: "@" and "." are not in the classes they follow, so giving characters back could
# never produce a match anyway. Together this keeps the scan linear even on a long blob.
_EMAIL = re.compile(
    r"(?<![\w.%+-])"
    r"[\w.%+-]++@"  # local part
    r"(?:[\w-]++\.)+"  # domain labels, each followed by a dot
    r"[^\W\d_]{2,}"  # top-level domain: letters only
)

# --- IBAN ------------------------------------------------------------------------------
# ISO 13616: two letters, two check digits, 11..30 alphanumerics (15..34 in total),
# written compact or in groups of four separated by single spaces. Matched
# case-insensitively because citizens type IBANs in lower case in chats.
_IBAN = re.compile(
    r"\b[A-Za-z]{2}[0-9]{2}"
    r"(?:"
    r"[A-Za-z0-9]{11,30}"  # compact
    r"|(?:[.\ -][A-Za-z0-9]{4}){2,7}(?:[.\ -][A-Za-z0-9]{1,4})?"  # grouped by four
    r")\b"
)
_IBAN_MIN_LEN = 15
_IBAN_MAX_LEN = 34

# --- BSN -------------------------------------------------------------------------------
# Nine digits, or the grouped spellings 3-2-3 (an eight-digit BSN, whose leading zero is
# implied), 4-2-3 and 3-3-3 with a consistent separator. Digit look-arounds make sure a
# run inside a longer number (or a grouped number continuing with more groups) is not
# taken for a BSN; plain digits next to letters ("BSN123456782") are still matched.
_BSN = re.compile(
    r"(?<![0-9])"
    r"(?:"
    r"[0-9]{9}"
    r"|(?<![0-9][./\ -])[0-9]{3,4}(?P<s1>[./\ -])[0-9]{2}(?P=s1)[0-9]{3}(?![./\ -][0-9])"
    r"|(?<![0-9][./\ -])[0-9]{3}(?P<s2>[./\ -])[0-9]{3}(?P=s2)[0-9]{3}(?![./\ -][0-9])"
    r")"
    r"(?![0-9])"
)
_BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)

# --- phone numbers ---------------------------------------------------------------------
# A regex that enumerates every way people group phone digits would be huge, so this one
# only finds a *candidate*: a stretch starting with "+", "0" or "(0" made of digits,
# spaces, hyphens and parentheses and ending in a digit that is not followed by a word
# character or by a time/decimal continuation (":30", ".5"). The stretch is at most
# 27 characters, so the work per start position is bounded and the scan stays linear.
# `_mask_phone_candidate` then splits it into digit groups and decides which consecutive
# groups form a number (ten digits for a Dutch national number, 8..15 for E.164).
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+])"
    r"(?:\+|\(?0)"
    r"[0-9()\ .-]{4,24}"
    r"[0-9]"
    r"(?![\w]|[:.,/][0-9])"
)
# Digit groups inside a candidate: "+31", "(020)", "(0)", "12345678".
_PHONE_GROUP = re.compile(r"\+?[0-9]+|\([0-9]+\)")
_NL_NATIONAL_DIGITS = 10
_E164_MIN_DIGITS = 8
_E164_MAX_DIGITS = 15


def _bsn_valid(digits: str) -> bool:
    """The 11-proef on a BSN of eight or nine digits (eight: leading zero implied)."""
    digits = digits.rjust(9, "0")
    if digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits, _BSN_WEIGHTS, strict=True))
    return total % 11 == 0


def _iban_valid(compact: str) -> bool:
    """ISO 13616 mod-97 check on an IBAN without spaces (any case)."""
    if not _IBAN_MIN_LEN <= len(compact) <= _IBAN_MAX_LEN:
        return False
    rearranged = (compact[4:] + compact[:4]).upper()
    # int(c, 36) maps 0-9 to themselves and A-Z to 10-35, exactly the ISO conversion.
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


def _mask_bsn(match: re.Match[str]) -> str:
    text = match.group()
    digits = "".join(c for c in text if c.isdigit())
    return BSN_MASK if _bsn_valid(digits) else text


def _mask_iban(match: re.Match[str]) -> str:
    text = match.group()
    parts = re.split(r"([.\ -])", text)
    seps = parts[1::2]
    parts = parts[0::2]
    # A grouped IBAN may have swallowed a following four-letter word ("... 7034 voor").
    # Try the longest prefix of groups that validates and keep the rest as it was.
    for end in range(len(parts), 0, -1):
        if _iban_valid("".join(parts[:end])):
            rest = "".join(s + p for s, p in zip(seps[end - 1 :], parts[end:], strict=True))
            return IBAN_MASK + rest
    return text


def _phone_number_end(groups: list[str], start: int) -> int:
    """Index of the last group of the longest phone number starting at group `start`,
    or -1 if none starts there.

    Longest, so that an international number is masked whole rather than leaving its
    tail visible. Digits are counted incrementally and the scan stops as soon as no
    longer run can be valid, so the work per candidate stays small.
    """
    first = groups[start]
    if first.startswith("+") or (first.startswith("00") and first[2:3] not in ("", "0")):
        # International: count digits after "+"/"00"; a "(0)" trunk prefix written
        # between country code and number ("+31 (0)6 ...") is not part of the number.
        count = -2 if first.startswith("00") else 0
        best = -1
        for j in range(start, len(groups)):
            if groups[j] != "(0)":
                count += sum(c.isdigit() for c in groups[j])
            if count > _E164_MAX_DIGITS:
                break
            if count >= _E164_MIN_DIGITS:
                best = j
        return best
    # Dutch national: trunk "0", a non-zero area/mobile digit, exactly ten digits.
    digits = ""
    for j in range(start, len(groups)):
        digits += groups[j].strip("()")
        if len(digits) >= 2 and (digits[0] != "0" or digits[1] == "0"):
            return -1
        if len(digits) == _NL_NATIONAL_DIGITS:
            return j
        if len(digits) > _NL_NATIONAL_DIGITS:
            return -1
    return -1


def _mask_phone_candidate(match: re.Match[str]) -> str:
    text = match.group()
    spans = [(m.start(), m.end(), m.group()) for m in _PHONE_GROUP.finditer(text)]
    groups = [g for _, _, g in spans]
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(groups):
        last = _phone_number_end(groups, i)
        if last < 0:
            i += 1
            continue
        out.append(text[pos : spans[i][0]])
        out.append(PHONE_MASK)
        pos = spans[last][1]
        i = last + 1
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _plain(text: str) -> str:
    """Digits of any script, full-width signs and Unicode dashes as ASCII.

    Only for text that is not ASCII, so the common log line pays one `isascii` call."""
    if text.isascii():
        return text
    return text.translate(_PLAIN_CHARS)


def redact(text: str) -> str:
    """Return `text` with BSNs, IBANs, phone numbers and e-mail addresses masked.

    Findings are replaced by ``[BSN]``, ``[IBAN]``, ``[PHONE]`` and ``[EMAIL]``. Numbers
    that only look like one of these (a 9-digit order number failing the 11-proef, an
    IBAN-shaped code failing mod-97, times, dates, short service numbers such as
    ``14 020``) are left alone.
    """
    original = text
    text = _plain(text)
    if not _NEEDS_WORK.search(text):
        return original
    if "%" in text:
        text = _PERCENT_AT.sub("@", text)
    read = text
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    text = _IBAN.sub(_mask_iban, text)
    text = _BSN.sub(_mask_bsn, text)
    text = _PHONE_CANDIDATE.sub(_mask_phone_candidate, text)
    # Plain spellings only where something was masked: otherwise the line as written.
    return original if text == read else text


def redact_value(value: object) -> object:
    """Apply `redact` to every string inside `value`, recursively.

    Strings are redacted; mappings (their string keys too: a dict keyed by phone number
    would otherwise leak), lists, tuples, sets and frozensets are rebuilt with redacted
    contents (mappings as plain dicts, so the caller's objects are never mutated). Every
    other value is returned unchanged.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(redact_value(v) for v in value)
    if isinstance(value, set):
        return {redact_value(v) for v in value}
    return value
