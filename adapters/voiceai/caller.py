"""The number a caller calls from, as the gateway's `start` event gives it.

VoiceAI Connect takes `caller` from the SIP From header, so it comes in whatever form the
operator's SIP trunk uses: `+31612345678`, `0612345678`, `0031612345678`, `31612345678`,
now and then with a `sip:`/`tel:` scheme or a `@host`, and `anonymous` (or nothing) for
a withheld number. Only a number that normalises to a valid E.164 number is kept: it is
what a callback request on this call offers as the number to call back, and anything
else (a SIP user name, an extension, a withheld number) is not a number to call.
"""

from __future__ import annotations

import re

import phonenumbers

#: Numbers without a country code are Dutch (the municipality's own trunk).
DEFAULT_REGION = "NL"

_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s.\-()]+")


def e164(raw: object, region: str = DEFAULT_REGION) -> str | None:
    """`raw` as an E.164 number (`+31612345678`), or None if it is not a valid one."""
    if not isinstance(raw, str):
        return None
    # The user part of a URI: "sip:+31612345678@trunk.example;user=phone".
    text = _SCHEME.sub("", raw.strip()).split("@", 1)[0].split(";", 1)[0]
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not re.fullmatch(r"\+?[0-9]{6,17}", compact):
        return None
    candidates = [compact]
    if not compact.startswith(("+", "0")):
        # Some trunks drop the plus of an international number: "31612345678".
        candidates.append("+" + compact)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None
