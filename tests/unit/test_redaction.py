"""Tests for handover.observability.redaction: what must be masked, and what must survive."""

from __future__ import annotations

import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handover.observability.redaction import redact, redact_value

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def passes_11_proef(digits: str) -> bool:
    """Independent reference implementation for the property tests."""
    digits = digits.rjust(9, "0")
    total = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True))
    return total % 11 == 0 and digits != "000000000"


# --- BSN -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "123456782",
        "1234 56 782",
        "1234.56.782",
        "123.456.782",
        "123 456 782",
        "123-456-782",
        "111222333",
    ],
)
def test_bsn_masked(text: str) -> None:
    assert passes_11_proef("".join(c for c in text if c.isdigit()))
    assert redact(f"mijn bsn is {text}.") == "mijn bsn is [BSN]."


def test_eight_digit_bsn_in_3_2_3_groups_masked() -> None:
    # 3-2-3 is the spelling of an eight-digit BSN (leading zero implied).
    assert passes_11_proef("12345672")
    assert redact("bsn 123.45.672") == "bsn [BSN]"
    assert redact("bsn 123 45 672") == "bsn [BSN]"


def test_bsn_next_to_letters_masked() -> None:
    assert redact("BSN123456782") == "BSN[BSN]"


def test_nine_digit_number_failing_11_proef_not_masked() -> None:
    assert not passes_11_proef("123456789")
    assert redact("ordernummer 123456789") == "ordernummer 123456789"
    assert redact("1234 56 789") == "1234 56 789"
    assert not passes_11_proef("12345678")
    assert redact("123.45.678") == "123.45.678"


def test_all_zeros_is_not_a_bsn() -> None:
    assert redact("000000000") == "000000000"


@pytest.mark.parametrize(
    "text",
    [
        "1123456782",  # a valid BSN inside a ten-digit run
        "1234567820",
        "99123456782",
        "1 123 456 782",  # inside a longer grouped number
        "123 456 782 1",
    ],
)
def test_bsn_digits_inside_longer_numbers_not_masked(text: str) -> None:
    assert redact(text) == text


# --- IBAN ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "NL91ABNA0417164300",
        "NL91 ABNA 0417 1643 00",
        "nl91abna0417164300",
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "BE68539007547034",
        "GB29NWBK60161331926819",
    ],
)
def test_iban_masked(text: str) -> None:
    assert redact(f"maak over naar {text} graag") == "maak over naar [IBAN] graag"


def test_corrupted_iban_not_masked() -> None:
    for text in (
        "NL91ABNA0417164301",
        "NL19ABNA0417164300",
        "nl91abna0417164301",
        "GB29 NWBK 6016 1331 9268 18",  # GB29 NWBK 6016 1331 9268 19 is valid
    ):
        assert redact(text) == text


def test_corrupted_spaced_iban_not_masked_as_iban() -> None:
    # Not an IBAN; its ten-digit tail starting with 0 is, however, a valid way to write
    # a Dutch phone number and the phone rule masks it. Over-masking is the safe side.
    assert redact("NL91 ABNA 0417 1643 01") == "NL91 ABNA [PHONE]"


def test_grouped_iban_followed_by_four_letter_word() -> None:
    # "voor" fits the group pattern; the valid prefix is masked and the word kept.
    assert redact("BE68 5390 0754 7034 voor de huur") == "[IBAN] voor de huur"


# --- phone numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "06-12345678",
        "06 1234 5678",
        "0612345678",
        "06 12 34 56 78",
        "+31 6 12345678",
        "+31612345678",
        "+31 (0)6 12345678",
        "0031 6 12345678",
        "020-1234567",
        "010 123 4567",
        "(020) 123 4567",
        "0543-123456",
        "+44 20 7946 0958",
        "+1 (555) 123-4567",
        "+32 2 123 45 67",
    ],
)
def test_phone_masked(text: str) -> None:
    assert redact(f"bel {text} na vijven") == "bel [PHONE] na vijven"


def test_phone_at_line_edges_and_in_punctuation() -> None:
    assert redact("0612345678") == "[PHONE]"
    assert redact("tel:0612345678,") == "tel:[PHONE],"
    assert redact("(0612345678)") == "([PHONE])"


def test_two_adjacent_phone_numbers_both_masked() -> None:
    assert redact("0612345678 020 1234567") == "[PHONE] [PHONE]"


@pytest.mark.parametrize(
    "text",
    [
        "08:30-17:00",
        "open van 08:30 - 17:00 uur",
        "2026-12-24",
        "24-12-2026",
        "06-12-2026 10:00",
        "2026-11-28T13:56:00.123456Z",
        "14 020",
        "bel 14 020 voor de gemeente",
        "3 van de 42",
        "0800-1234",
        "10.0.0.1:8080",
        "0123456789abcdef",  # a hex id is not a phone number
        "versie 0.1.0",
        "prijs 0,50",
    ],
)
def test_not_a_phone(text: str) -> None:
    assert redact(text) == text


# --- e-mail ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "jan@example.nl",
        "j.de.vries+chat@gemeente-utrecht.nl",
        "JAN_01@Mail.Example.COM",
        "josé@école.fr",
    ],
)
def test_email_masked(text: str) -> None:
    assert redact(f"mail {text}.") == "mail [EMAIL]."


def test_at_sign_without_address_not_masked() -> None:
    for text in ("@gemeente", "om 10 @ het loket", "a@b"):
        assert redact(text) == text


# --- mixed and structure ---------------------------------------------------------------


def test_mixed_sentence() -> None:
    text = (
        "Ik ben Jan (BSN 123456782), mail jan@example.nl of bel 06-12345678; "
        "rekening NL91 ABNA 0417 1643 00, ordernummer 123456789, open 08:30-17:00."
    )
    assert redact(text) == (
        "Ik ben Jan (BSN [BSN]), mail [EMAIL] of bel [PHONE]; "
        "rekening [IBAN], ordernummer 123456789, open 08:30-17:00."
    )


def test_plain_text_unchanged() -> None:
    for text in ("", "delivery.retry_scheduled", "Goedemiddag, hoe kan ik helpen?"):
        assert redact(text) == text


def test_redact_value_nested() -> None:
    value = {
        "bsn": "123456782",
        "0612345678": "key with a phone number",
        "items": ["jan@example.nl", ("NL91ABNA0417164300", 5), {"n": None}],
        "tags": {"0612345678"},
        "frozen": frozenset({"x"}),
        "count": 3,
        "ratio": 0.5,
        "flag": True,
    }
    original = repr(value)
    assert redact_value(value) == {
        "bsn": "[BSN]",
        "[PHONE]": "key with a phone number",
        "items": ["[EMAIL]", ("[IBAN]", 5), {"n": None}],
        "tags": {"[PHONE]"},
        "frozen": frozenset({"x"}),
        "count": 3,
        "ratio": 0.5,
        "flag": True,
    }
    assert repr(value) == original  # the input is not mutated


def test_redact_value_leaves_other_types_alone() -> None:
    marker = object()
    assert redact_value(marker) is marker
    assert redact_value(123456782) == 123456782
    assert redact_value(None) is None
    assert redact_value("123456782") == "[BSN]"


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000 + "@",
        "x@" + "a" * 100_000,
        "a." * 50_000 + "@x",
        "0 " * 50_000,
        "0" * 100_000,
        "+1 " * 30_000,
        "NL12" + "A" * 100_000,
        "06 12 " * 20_000,
    ],
)
def test_no_pathological_backtracking(text: str) -> None:
    # A generous bound: linear scans take milliseconds, quadratic ones take minutes.
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 2.0


# --- properties ------------------------------------------------------------------------

# Surrounding text without digits or "@", so the only candidate is the number itself.
surrounding = st.text(
    alphabet=st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="@+"),
    max_size=30,
)


@given(
    first_eight=st.lists(st.integers(0, 9), min_size=8, max_size=8),
    layout=st.sampled_from(["plain", "4-2-3", "3-3-3"]),
    separator=st.sampled_from([" ", ".", "-"]),
    before=surrounding,
    after=surrounding,
)
def test_property_valid_bsn_is_masked(
    first_eight: list[int], layout: str, separator: str, before: str, after: str
) -> None:
    partial = sum(d * w for d, w in zip(first_eight, WEIGHTS[:8], strict=True))
    ninth = partial % 11  # the check digit that makes the weighted sum divisible by 11
    assume(ninth < 10)
    digits = "".join(map(str, first_eight)) + str(ninth)
    assume(digits != "000000000")
    assert passes_11_proef(digits)
    if layout == "plain":
        written = digits
    elif layout == "4-2-3":
        written = separator.join((digits[:4], digits[4:6], digits[6:]))
    else:
        written = separator.join((digits[:3], digits[3:6], digits[6:]))

    result = redact(f"{before} {written} {after}")

    assert written not in result
    assert digits not in result.replace(separator, "")
    assert "[BSN]" in result


@given(
    number=st.integers(0, 999_999_999).map(lambda n: f"{n:09d}"),
    before=surrounding,
    after=surrounding,
)
def test_property_nine_digits_failing_11_proef_unchanged(
    number: str, before: str, after: str
) -> None:
    assume(not passes_11_proef(number))
    text = f"{before} {number} {after}"
    assert redact(text) == text


@given(st.text(alphabet=st.sampled_from("0123456789 -+()@.:aNLz"), max_size=60))
def test_property_redact_is_idempotent(text: str) -> None:
    # Masks contain no digits or "@", so a second pass finds nothing new; this also
    # exercises the regexes on dense, number-like input.
    once = redact(text)
    assert redact(once) == once


# --- spellings that dodge a plain ASCII scan ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        ("mail jan%40example.nl graag", "[EMAIL]"),  # percent-encoded, as in a logged URL
        ("mail jan%40Example.NL", "[EMAIL]"),
        ("mail jan\uff20example.nl", "[EMAIL]"),  # full-width at sign
        ("bsn \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff12", "[BSN]"),  # full-width digits
        ("bsn 111/222/333", "[BSN]"),
        ("bsn 123\u2013456\u2013782", "[BSN]"),  # en dashes
        ("iban NL91.ABNA.0417.1643.00", "[IBAN]"),
        ("iban NL91-ABNA-0417-1643-00", "[IBAN]"),
        ("bel 06.12.34.56.78", "[PHONE]"),
        ("bel 020.123.4567", "[PHONE]"),
        ("bel 06\u201312345678", "[PHONE]"),  # en dash
        ("bel \uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "[PHONE]"),
    ],
)
def test_disguised_spellings_masked(text: str, mask: str) -> None:
    out = redact(text)
    assert mask in out, out
    digits = "".join(c for c in out if c.isdigit())
    assert len(digits) < 4, out


def test_dotted_dates_and_versions_survive() -> None:
    assert redact("op 06.12.2026 om 10.30 uur") == "op 06.12.2026 om 10.30 uur"
    assert redact("versie 1.2.3") == "versie 1.2.3"
