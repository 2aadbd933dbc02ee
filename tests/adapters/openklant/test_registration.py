"""Registering callback requests and finished contacts in the fake Open Klant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from adapters.openklant import wire
from adapters.openklant.client import OpenKlantClient
from handover.sdk.errors import PermanentError
from tests.adapters.openklant.conftest import EMAIL, NAME, PHONE, QUESTION, callback, finished
from tests.fakes.openklant_server import FakeOpenKlant


async def test_a_callback_request_is_linked_as_the_standard_requires(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    result = await client.register_callback_request(callback())

    [kc] = fake.all("klantcontacten")
    assert kc["uuid"] == result.klantcontact.uuid and not result.resumed
    assert kc["kanaal"] == "chat" and kc["taal"] == "nld" and kc["vertrouwelijk"] is False
    assert kc["onderwerp"] == "Contactverzoek" and kc["inhoud"] == QUESTION
    assert kc["plaatsgevondenOp"] == "2026-03-02T18:30:00Z"

    [party] = fake.all("betrokkenen")
    assert party["hadKlantcontact"]["uuid"] == kc["uuid"]
    assert party["rol"] == "klant" and party["initiator"] is True
    assert party["volledigeNaam"] == NAME

    [address] = fake.all("digitaleadressen")
    assert address["verstrektDoorBetrokkene"]["uuid"] == party["uuid"]
    assert address["soortDigitaalAdres"] == "telefoonnummer" and address["adres"] == PHONE

    [task] = fake.all("internetaken")
    assert task["aanleidinggevendKlantcontact"]["uuid"] == kc["uuid"]
    assert [a["uuid"] for a in task["toegewezenAanActoren"]] == [fake.kcc]
    assert task["status"] == "te_verwerken" and task["gevraagdeHandeling"] == "Terugbellen"
    assert task["toelichting"] == "Referentie K7M2QP. Liefst na 09:00 bellen."
    assert result.task_number == task["nummer"] == "0000000001"

    [marker] = fake.all("onderwerpobjecten")
    assert marker["klantcontact"]["uuid"] == kc["uuid"]
    assert marker["onderwerpobjectidentificator"] == {
        "objectId": "cb-0001", "codeObjecttype": "contactverzoek", "codeRegister": "handover",
        "codeSoortObjectId": "registratie-id"}
    # The klantcontact shows all of it, as KCC software reads it.
    assert [b["uuid"] for b in kc["hadBetrokkenen"]] == [party["uuid"]]
    assert [t["uuid"] for t in kc["leiddeTotInterneTaken"]] == [task["uuid"]]


async def test_an_e_mail_callback_without_a_name(fake: FakeOpenKlant,
                                                 client: OpenKlantClient) -> None:
    await client.register_callback_request(callback(
        address=wire.ContactAddress(wire.AddressKind.EMAIL, EMAIL), name=None, note=None,
        channel="voiceai", language="tr"))
    [kc], [party], [address], [task] = (fake.all(r) for r in (
        "klantcontacten", "betrokkenen", "digitaleadressen", "internetaken"))
    assert kc["kanaal"] == "telefoon" and kc["taal"] == "tur"
    assert "contactnaam" not in party
    assert address["soortDigitaalAdres"] == "email" and address["adres"] == EMAIL
    assert task["gevraagdeHandeling"] == "Contact opnemen per e-mail"
    assert task["toelichting"] == "Referentie K7M2QP."


async def test_registering_the_same_request_twice_registers_it_once(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    first = await client.register_callback_request(callback())
    again = await client.register_callback_request(callback())
    assert again.resumed and again.internetaak == first.internetaak
    assert again.digitaal_adres == first.digitaal_adres
    for resource in ("klantcontacten", "betrokkenen", "digitaleadressen", "internetaken"):
        assert len(fake.all(resource)) == 1, resource
    # Another request is another registration.
    await client.register_callback_request(callback(registration_id="cb-0002"))
    assert len(fake.all("internetaken")) == 2


async def test_long_free_text_is_clipped_to_the_spec(fake: FakeOpenKlant,
                                                     client: OpenKlantClient) -> None:
    await client.register_callback_request(callback(
        question="v" * 1500, subject="s" * 300, note="n" * 1500, name="N" * 250))
    [kc], [party], [task] = (fake.all(r) for r in ("klantcontacten", "betrokkenen",
                                                   "internetaken"))
    assert len(kc["inhoud"]) == 1000 and len(kc["onderwerp"]) == 200
    assert len(task["toelichting"]) == 1000 and task["toelichting"].endswith(wire.ELLIPSIS)
    assert len(party["contactnaam"]["achternaam"]) == 200


async def test_an_address_the_api_would_refuse_is_refused_before_anything_is_sent(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    with pytest.raises(PermanentError, match="telefoonnummer") as exc:
        await client.register_callback_request(callback(
            address=wire.ContactAddress(wire.AddressKind.PHONE, "12-34")))
    assert "12-34" not in str(exc.value)
    assert fake.requests == []


async def test_an_unmapped_channel_is_a_permanent_error(
    fake: FakeOpenKlant, make_client: Callable[..., OpenKlantClient],
) -> None:
    with pytest.raises(PermanentError, match="kanaal"):
        await make_client(kanalen={}).register_callback_request(callback())
    await make_client(kanalen={}, default_kanaal="overig").register_callback_request(callback())
    assert fake.all("klantcontacten")[0]["kanaal"] == "overig"


async def test_a_finished_livechat_is_registered_with_the_daemon_and_the_agent(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    result = await client.register_contact(finished(content="Vraag over afval beantwoord."))
    [kc] = fake.all("klantcontacten")
    assert kc["kanaal"] == "whatsapp" and kc["taal"] == "eng" and kc["onderwerp"] == "Afval"
    assert kc["indicatieContactGelukt"] is True and kc["inhoud"] == "Vraag over afval beantwoord."
    actors = {a["uuid"]: a["soortActor"] for a in kc["hadBetrokkenActoren"]}
    assert actors == {fake.daemon: "geautomatiseerde_actor", fake.agent: "medewerker"}
    assert result.agent_link is not None and result.daemon_link is not None
    assert fake.all("internetaken") == [] and len(fake.all("betrokkenen")) == 1

    again = await client.register_contact(finished(content="Vraag over afval beantwoord."))
    assert again.resumed and again.agent_link == result.agent_link
    assert len(fake.all("klantcontacten")) == 1 and len(fake.all("actorklantcontacten")) == 2


async def test_an_unknown_agent_is_left_out_and_inhoud_is_optional(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    result = await client.register_contact(finished(agent_id="agent-unknown", succeeded=None))
    [kc] = fake.all("klantcontacten")
    assert "inhoud" not in kc and kc["indicatieContactGelukt"] is None
    assert result.agent_link is None
    assert [a["uuid"] for a in kc["hadBetrokkenActoren"]] == [fake.daemon]


async def test_check_reads_the_task_actor(client: OpenKlantClient) -> None:
    await client.check()


async def test_lookups_read_every_page_and_keep_the_first_of_duplicates(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    first = await client.register_callback_request(callback())
    # A second task on the same klantcontact (made by hand in Open Klant), on page two.
    fake.page_size = 1
    fake._store("internetaken", {
        "aanleidinggevendKlantcontact": {"uuid": first.klantcontact.uuid},
        "gevraagdeHandeling": "Iets anders", "status": "te_verwerken"})
    fake.requests.clear()
    with capture_logs() as logs:
        again = await client.register_callback_request(callback())
    assert again.internetaak == first.internetaak
    pages = [q for m, r, q, _ in fake.requests if (m, r) == ("GET", "internetaken")]
    assert len(pages) == 2 and pages[1].get("page") == "2"
    assert any(e["event"] == "openklant.duplicates_found" and e["count"] == 2 for e in logs)
    assert len(fake.all("internetaken")) == 2
