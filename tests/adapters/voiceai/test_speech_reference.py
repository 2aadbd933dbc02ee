"""Spoken choices and transfer references, on their own."""

from __future__ import annotations

import pytest

from adapters.voiceai.reference import make_reference, read_reference
from adapters.voiceai.speech import has_options, spoken_choice

SECRET = "reference-secret-0123456789"


@pytest.mark.parametrize(("said", "number"), [
    ("twee", "2"), ("Twee.", "2"), ("optie 2", "2"), ("nummer drie", "3"), ("één", "1"),
    ("de eerste", "1"), ("the second one", "2"), ("option four please", "4"), ("10", "10"),
    ("one", "1"),
])
def test_a_spoken_choice_becomes_its_number(said: str, number: str) -> None:
    assert spoken_choice(said) == number


@pytest.mark.parametrize("said", [
    "twee paspoorten", "ik wil optie twee en drie", "hallo", "", "een afspraak maken",
])
def test_other_utterances_are_left_as_said(said: str) -> None:
    assert spoken_choice(said) is None


def test_numbered_options_are_recognised() -> None:
    assert has_options("Waar gaat het over?\n1. Afval\n2. Paspoort")
    assert not has_options("Het kost 2. euro")  # not at the start of a line
    assert not has_options("U heeft 3 vragen gesteld.")


NOW = 1_770_000_000.0


def test_a_reference_reads_back_and_a_changed_one_does_not() -> None:
    ref = make_reference(SECRET, "c0ffee", 2, NOW + 60)
    assert read_reference(SECRET, ref, NOW) == ("c0ffee", 2)
    conv, number, until, mac = ref.split(".")
    assert read_reference(SECRET, f"{conv}.3.{until}.{mac}", NOW) is None  # another handover
    assert read_reference(SECRET, f"deadbeef.{number}.{until}.{mac}", NOW) is None
    assert read_reference("another-secret-of-length", ref, NOW) is None
    assert read_reference(SECRET, "c0ffee", NOW) is None
    assert read_reference(SECRET, "a.b.c", NOW) is None
    assert read_reference(SECRET, "a.b.c.d", NOW) is None


def test_a_reference_expires_and_its_expiry_cannot_be_stretched() -> None:
    ref = make_reference(SECRET, "c0ffee", 2, NOW + 60)
    assert read_reference(SECRET, ref, NOW + 59) == ("c0ffee", 2)
    assert read_reference(SECRET, ref, NOW + 60) is None
    conv, number, _until, mac = ref.split(".")
    assert read_reference(SECRET, f"{conv}.{number}.{int(NOW) + 999_999}.{mac}", NOW + 61) \
        is None
    # The shape without an expiry (before references expired) is not taken either.
    assert read_reference(SECRET, f"{conv}.{number}.{mac}", NOW) is None
