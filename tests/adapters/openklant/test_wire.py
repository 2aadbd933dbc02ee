"""The wire format: lengths, language codes, kanaal mapping, addresses, answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.openklant import wire

WHEN = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)


def test_clip_keeps_short_text_and_ends_long_text_in_an_ellipsis() -> None:
    assert wire.clip("  kort  ", 10) == "kort"
    clipped = wire.clip("x" * 250, 200)
    assert len(clipped) == 200 and clipped.endswith(wire.ELLIPSIS)


@pytest.mark.parametrize(("tag", "code"), [
    ("nl", "nld"), ("en", "eng"), ("tr", "tur"), ("ar", "ara"), ("pl", "pol"),
    ("nl-NL", "nld"), ("en_GB", "eng"), ("EN", "eng"), ("de", "deu"), ("fry", "fry"),
    ("xx", "nld"),
])
def test_language_codes(tag: str, code: str) -> None:
    assert wire.taal(tag) == code


def test_language_overrides_and_default() -> None:
    assert wire.taal("de", {"de": "ger"}) == "ger"
    assert wire.taal("xx", default="eng") == "eng"


def test_kanaal_from_configuration() -> None:
    assert wire.kanaal("whatsapp", wire.DEFAULT_KANALEN) == "whatsapp"
    assert wire.kanaal("voiceai", {"voiceai": "Telefoon"}) == "Telefoon"
    assert wire.kanaal("teams", {}, default="chat") == "chat"
    with pytest.raises(wire.WireError, match="teams"):
        wire.kanaal("teams", wire.DEFAULT_KANALEN)


def test_klantcontact_body_caps_onderwerp_and_inhoud() -> None:
    body = wire.klantcontact_body(
        kanaal="chat", onderwerp="o" * 300, taal="nld", vertrouwelijk=False,
        plaatsgevonden_op=WHEN.astimezone(timezone(timedelta(hours=1))), inhoud="i" * 2000,
        contact_gelukt=True,
    )
    assert len(body["onderwerp"]) == wire.ONDERWERP_MAX
    assert len(body["inhoud"]) == wire.INHOUD_MAX and body["inhoud"].endswith(wire.ELLIPSIS)
    assert body["plaatsgevondenOp"] == "2026-03-02T18:30:00Z"
    assert body["indicatieContactGelukt"] is True


def test_klantcontact_body_leaves_out_empty_inhoud_and_refuses_naive_times() -> None:
    body = wire.klantcontact_body(kanaal="chat", onderwerp="x", taal="nld",
                                  vertrouwelijk=True, plaatsgevonden_op=WHEN, inhoud="  ")
    assert "inhoud" not in body
    with pytest.raises(wire.WireError):
        wire.klantcontact_body(kanaal="chat", onderwerp="x", taal="nld", vertrouwelijk=True,
                               plaatsgevonden_op=datetime(2026, 3, 2))


def test_internetaak_body_caps_and_carries_the_reference() -> None:
    body = wire.internetaak_body(
        klantcontact="kc", actors=["a1"], gevraagde_handeling="h" * 300, reference="K7M2QP",
        toelichting="t" * 2000,
    )
    assert len(body["gevraagdeHandeling"]) == wire.GEVRAAGDE_HANDELING_MAX
    assert len(body["toelichting"]) == wire.TOELICHTING_MAX
    assert body["toelichting"].startswith("Referentie K7M2QP. ttt")
    assert body["status"] == "te_verwerken"
    assert body["toegewezenAanActoren"] == [{"uuid": "a1"}]
    assert body["aanleidinggevendKlantcontact"] == {"uuid": "kc"}


@pytest.mark.parametrize("reference", ["", "ABCDEFGHIJK", "AB-12", "ÄB12"])
def test_bad_references_are_refused(reference: str) -> None:
    with pytest.raises(wire.WireError):
        wire.check_reference(reference)


def test_new_reference_is_short_and_readable() -> None:
    ref = wire.new_reference()
    assert len(ref) == 6 and wire.check_reference(ref) == ref
    assert not set(ref) & set("01OI")


@pytest.mark.parametrize(("raw", "sent"), [
    ("+31 6 1234 5678", "+31612345678"), ("06-12345678", "0612345678"), ("14020", "14020"),
])
def test_phone_numbers_are_normalised(raw: str, sent: str) -> None:
    assert wire.ContactAddress(wire.AddressKind.PHONE, raw).normalised() == sent


@pytest.mark.parametrize(("kind", "value"), [
    (wire.AddressKind.PHONE, "12345"), (wire.AddressKind.PHONE, "+31 6 abc"),
    (wire.AddressKind.EMAIL, "no-at-sign"), (wire.AddressKind.EMAIL, "a@" + "b" * 80 + ".nl"),
])
def test_invalid_addresses_are_refused_without_their_value(kind: wire.AddressKind,
                                                            value: str) -> None:
    with pytest.raises(wire.WireError) as exc:
        wire.ContactAddress(kind, value).normalised()
    assert value not in str(exc.value)


def test_address_repr_hides_the_value() -> None:
    assert "0612345678" not in repr(wire.ContactAddress(wire.AddressKind.PHONE, "0612345678"))


def test_contact_name_goes_whole_into_achternaam() -> None:
    assert wire.betrokkene_body("kc", "  Jan   de Vries ") == {
        "rol": "klant", "initiator": True, "hadKlantcontact": {"uuid": "kc"},
        "contactnaam": {"achternaam": "Jan de Vries"},
    }
    assert "contactnaam" not in wire.betrokkene_body(None, " ")


def test_marker_identificator_and_query() -> None:
    marker = wire.Marker("handover", "contactverzoek", "cb-1")
    assert marker.identificator()["objectId"] == "cb-1"
    assert marker.query() == {
        "onderwerpobject__onderwerpobjectidentificatorObjectId": "cb-1",
        "onderwerpobject__onderwerpobjectidentificatorCodeRegister": "handover",
        "onderwerpobject__onderwerpobjectidentificatorCodeObjecttype": "contactverzoek",
    }
    with pytest.raises(wire.WireError):
        wire.Marker("handover", "contactverzoek", "has spaces")


def test_invalid_params_gives_names_and_codes_but_never_reasons() -> None:
    body = {"invalidParams": [
        {"name": "adres", "code": "invalid", "reason": "'0612' is geen telefoonnummer"},
        {"name": "kanaal", "code": "max_length", "reason": "te lang"}, "junk",
    ]}
    assert wire.invalid_params(body) == ["adres (invalid)", "kanaal (max_length)"]
    assert wire.invalid_params({"detail": "x"}) == []


def test_answers_are_parsed_or_refused() -> None:
    assert wire.parse_ref({"uuid": "u", "url": "http://x/u"}, "x") == wire.Ref("u", "http://x/u")
    with pytest.raises(wire.WireError):
        wire.parse_ref({"uuid": "u"}, "x")
    page = wire.parse_page({"count": 1, "next": None, "results": [{"uuid": "u"}]}, "x")
    assert page.next is None and page.results == ({"uuid": "u"},)
    assert wire.task_number({"nummer": "0000000007"}) == "0000000007"
    assert wire.task_number({"nummer": 7}) is None
