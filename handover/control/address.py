"""How a citizen wants to be reached: a phone number or an e-mail address, as typed or
spoken, checked and normalised. Pure functions (no I/O: e-mail domains are not looked
up in DNS, so a typo in a domain that exists passes; the contact centre sees it)."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

#: Numbers without a country code are Dutch.
DEFAULT_REGION = "NL"

_SPOKEN_SEPARATORS = re.compile(r"[\s.\-/()]+")
# "plus 31 6 ..." as a speech recogniser may write it.
_SPOKEN_PLUS = re.compile(r"^(plus|\+)\s*", re.IGNORECASE)


def phone_number(text: str, region: str = DEFAULT_REGION) -> str | None:
    """`text` as an E.164 number (`+31612345678`) if it is a valid phone number."""
    raw = _SPOKEN_PLUS.sub("+", text.strip())
    compact = _SPOKEN_SEPARATORS.sub("", raw)
    if not compact or not re.fullmatch(r"\+?[0-9]{6,17}", compact):
        return None
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email_address(text: str) -> str | None:
    """`text` as a normalised e-mail address if it is one (syntax only, no DNS)."""
    candidate = text.strip()
    if "@" not in candidate or any(c.isspace() for c in candidate):
        return None
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(checked.normalized)


def contact_address(text: str, *, phone_only: bool = False) -> tuple[str, str] | None:
    """("phone" | "email", normalised address) for what the citizen gave, or None.

    `phone_only` on a spoken channel: an e-mail address does not survive speech
    recognition well enough to trust."""
    if not phone_only and "@" in text:
        email = email_address(text)
        return ("email", email) if email else None
    number = phone_number(text)
    return ("phone", number) if number else None


def last_digits(number: str, count: int = 2) -> str:
    """The end of a number, to name it without saying it all."""
    digits = "".join(c for c in number if c.isdigit())
    return digits[-count:]
