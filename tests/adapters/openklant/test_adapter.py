"""The openklant registration target: the core's registrations end up in Open Klant once,
whatever fails on the way, and nothing personal reaches the logs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.openklant.adapter import OpenKlantRegistry
from handover.sdk.contracts import ConfigIssues, Health
from handover.sdk.errors import AmbiguousSendError, PermanentError, TransientError
from handover.sdk.registration import (
    AddressKind,
    CallbackRequest,
    ContactRecord,
    RegistrationTarget,
)
from handover.sdk.testing import TENANT, FakeContext
from tests.adapters.openklant.conftest import EMAIL, NAME, PHONE, QUESTION
from tests.fakes.openklant_server import FakeOpenKlant, Fault

PLACED = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)
CALLBACK_RESOURCES = ("klantcontacten", "betrokkenen", "digitaleadressen", "internetaken",
                      "onderwerpobjecten")
CALLBACK_STEPS = ("POST maak-klantcontact", "POST digitaleadressen", "POST internetaken")


def request(**changes: Any) -> CallbackRequest:
    values: dict[str, Any] = dict(
        request_id="0123456789abcdef0123456789abcdef", reference="K7M2QP", tenant=TENANT,
        conversation_id="conv-1", channel="gem", channel_type="whatsapp", language="nl",
        placed_at=PLACED, address_kind=AddressKind.PHONE, address=PHONE, question=QUESTION,
        name=NAME, topic="waste", topic_label="Afval", callback_text="Morgen na 09:00",
    )
    values.update(changes)
    return CallbackRequest(**values)


def record(**changes: Any) -> ContactRecord:
    values: dict[str, Any] = dict(
        record_id="conv-1-1", tenant=TENANT, conversation_id="conv-1", channel="gem",
        channel_type="web", language="en", started_at=PLACED, ended_at=PLACED,
        outcome="resolved", succeeded=True, topic="waste", topic_label="Afval",
        agent_name="Sanne", agent_id="agent-7",
    )
    values.update(changes)
    return ContactRecord(**values)


def section(fake: FakeOpenKlant, **changes: Any) -> dict[str, Any]:
    return {"base_url": fake.url, "token": fake.token, "task_actor": fake.kcc,
            "daemon_actor": fake.daemon, "medewerker_register": "obi4wan",
            "timeout_seconds": 0.3, **changes}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenKlant]:
    server = FakeOpenKlant()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


Build = Callable[..., OpenKlantRegistry]


@pytest.fixture
async def build(fake: FakeOpenKlant) -> AsyncIterator[Build]:
    session = aiohttp.ClientSession()
    contexts: list[FakeContext] = []

    def make(**changes: Any) -> OpenKlantRegistry:
        options = OpenKlantRegistry.parse_config(section(fake, **changes), "adapters.ok")
        ctx = FakeContext("ok", http=session)
        contexts.append(ctx)
        return OpenKlantRegistry("ok", options, ctx)

    try:
        yield make
    finally:
        for ctx in contexts:
            await ctx.aclose()
        await session.close()


def counts(fake: FakeOpenKlant, resources: tuple[str, ...]) -> dict[str, int]:
    return {r: len(fake.all(r)) for r in resources}


async def test_a_callback_request_becomes_a_linked_klantcontact_and_task(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build()
    assert isinstance(target, RegistrationTarget)
    assert target.resend_safe and target.registers_callbacks and target.registers_contacts
    receipt = await target.register_callback(request())

    [kc] = fake.all("klantcontacten")
    assert receipt.external_id == kc["uuid"]
    assert kc["kanaal"] == "whatsapp" and kc["onderwerp"] == "Afval"
    assert kc["inhoud"] == QUESTION and kc["taal"] == "nld"
    [party] = fake.all("betrokkenen")
    assert party["hadKlantcontact"]["uuid"] == kc["uuid"] and party["volledigeNaam"] == NAME
    [address] = fake.all("digitaleadressen")
    assert address["verstrektDoorBetrokkene"]["uuid"] == party["uuid"]
    assert address["soortDigitaalAdres"] == "telefoonnummer" and address["adres"] == PHONE
    [task] = fake.all("internetaken")
    assert task["aanleidinggevendKlantcontact"]["uuid"] == kc["uuid"]
    assert [a["uuid"] for a in task["toegewezenAanActoren"]] == [fake.kcc]
    assert task["toelichting"] == "Referentie K7M2QP. Toegezegd aan de inwoner: Morgen na 09:00."
    [marker] = fake.all("onderwerpobjecten")
    assert marker["onderwerpobjectidentificator"]["objectId"] == request().request_id


async def test_an_e_mail_request_without_topic_uses_the_configured_subject(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build(callback_subject="Terugbelverzoek", callback_actions={"email": "Mailen"})
    await target.register_callback(request(
        address_kind=AddressKind.EMAIL, address=EMAIL, topic=None, topic_label=None,
        channel_type="voiceai", name=None))
    [kc], [address], [task] = (fake.all(r) for r in (
        "klantcontacten", "digitaleadressen", "internetaken"))
    assert kc["onderwerp"] == "Terugbelverzoek" and kc["kanaal"] == "telefoon"
    assert address["soortDigitaalAdres"] == "email" and address["adres"] == EMAIL
    assert task["gevraagdeHandeling"] == "Mailen"


@pytest.mark.parametrize("step", CALLBACK_STEPS)
@pytest.mark.parametrize("fault", ["lost", "503", "hang"])
async def test_a_failure_at_any_step_and_a_retry_register_the_request_once(
    fake: FakeOpenKlant, build: Build, step: str, fault: str,
) -> None:
    target = build()
    injected = {"lost": Fault.lost(), "503": Fault.status_(503),
                "hang": Fault.hang(2.0)}[fault]
    fake.fail_next(step, injected)
    # What the outbox does: the item failed (ambiguous or transient) and comes again.
    with pytest.raises((AmbiguousSendError, TransientError)):
        await target.register_callback(request())
    await target.register_callback(request())
    await target.register_callback(request())  # a resend after success: still one
    assert counts(fake, CALLBACK_RESOURCES) == dict.fromkeys(CALLBACK_RESOURCES, 1)
    [task] = fake.all("internetaken")
    [kc] = fake.all("klantcontacten")
    assert task["aanleidinggevendKlantcontact"]["uuid"] == kc["uuid"]


async def test_a_finished_contact_is_registered_once_with_the_daemon_and_the_agent(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build()
    fake.fail_next("POST actorklantcontacten", Fault.lost())
    with pytest.raises(AmbiguousSendError):
        await target.register_contact(record())
    receipt = await target.register_contact(record())
    await target.register_contact(record())
    [kc] = fake.all("klantcontacten")
    assert receipt.external_id == kc["uuid"]
    assert kc["kanaal"] == "chat" and kc["onderwerp"] == "Afval" and kc["taal"] == "eng"
    assert kc["indicatieContactGelukt"] is True and kc.get("inhoud") in (None, "")
    linked = sorted(link["actor"]["uuid"] for link in fake.all("actorklantcontacten"))
    assert linked == sorted([fake.daemon, fake.agent])


async def test_a_contact_without_a_known_agent_links_the_daemon_only(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build(contact_subject="Chat met het KCC")
    await target.register_contact(record(
        agent_id=None, agent_name=None, topic=None, topic_label=None, succeeded=False,
        outcome="citizen_left", content="Vraag over afval"))
    [kc] = fake.all("klantcontacten")
    assert kc["onderwerp"] == "Chat met het KCC" and kc["indicatieContactGelukt"] is False
    assert kc["inhoud"] == "Vraag over afval"
    assert [link["actor"]["uuid"] for link in fake.all("actorklantcontacten")] == [fake.daemon]


async def test_a_tenant_that_does_not_register_contacts_sends_nothing(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build(register_contacts=False)
    receipt = await target.register_contact(record())
    assert receipt.external_id is None and not fake.requests


async def test_a_refusal_is_permanent_and_names_fields_only(
    fake: FakeOpenKlant, build: Build,
) -> None:
    fake.allowed_kanalen = {"telefoon"}
    target = build()
    with capture_logs() as logs, pytest.raises(PermanentError) as refused:
        await target.register_callback(request())
    assert "kanaal" in str(refused.value)
    assert "whatsapp" not in str(refused.value)
    assert QUESTION not in str(refused.value) and PHONE not in str(refused.value)
    assert not fake.all("klantcontacten")
    dumped = json.dumps(logs, default=str)
    for secret in (PHONE, NAME, QUESTION, fake.token, "Morgen na"):
        assert secret not in dumped


async def test_no_personal_data_or_token_in_logs_of_a_whole_registration(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build()
    fake.fail_next("POST digitaleadressen", Fault.lost())
    with capture_logs() as logs:
        with pytest.raises(AmbiguousSendError):
            await target.register_callback(request())
        await target.register_callback(request())
        await target.register_contact(record(content="Samenvatting: afval"))
    assert logs
    dumped = json.dumps(logs, default=str)
    for secret in (PHONE, NAME, QUESTION, fake.token, "Morgen na", "Samenvatting",
                   "agent-7", "Sanne", fake.url):
        assert secret not in dumped, secret
    assert PHONE not in repr(request()) and NAME not in repr(request())


async def test_start_probes_in_the_background_and_stop_ends_the_probe(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build()
    ctx = target.ctx
    assert isinstance(ctx, FakeContext)
    await target.start()
    for _ in range(100):
        if ctx.health and ctx.health[-1][0] is Health.CONNECTED:
            break
        await asyncio.sleep(0.02)
    assert [h for h, _ in ctx.health] == [Health.STARTING, Health.CONNECTED]
    assert any(r[0] == "GET" and r[1] == "actoren" for r in fake.requests)
    await target.stop()
    assert target._task is None


async def test_health_follows_the_probe(fake: FakeOpenKlant, build: Build) -> None:
    ok = build()
    await ok._probe()
    assert ok.ctx.health[-1][0] is Health.CONNECTED  # type: ignore[attr-defined]
    refused = build(token="wrong-token")
    await refused._probe()
    assert refused.ctx.health[-1][0] is Health.AUTH_FAILED  # type: ignore[attr-defined]
    unknown = build(task_actor="00000000-0000-4000-8000-000000000000")
    await unknown._probe()
    assert unknown.ctx.health[-1][0] is Health.DEGRADED  # type: ignore[attr-defined]


def test_every_mistake_in_the_section_is_reported_at_its_key() -> None:
    with pytest.raises(ConfigIssues) as bad:
        OpenKlantRegistry.parse_config({
            "base_url": "https://openklant.example.nl/api", "task_actor": "KCC",
            "timeout_seconds": 900, "callback_actions": {"fax": "Faxen"}, "kanalen": {"web": 1},
        }, "adapters.ok")
    paths = {issue.path for issue in bad.value.issues}
    assert {"adapters.ok.token", "adapters.ok.timeout_seconds",
            "adapters.ok.callback_actions.fax", "adapters.ok.kanalen.web"} <= paths
    assert {"adapters.ok.base_url", "adapters.ok.task_actor"} <= paths


def test_tenant_tables_override_the_instance(fake: FakeOpenKlant) -> None:
    other = "11111111-1111-4111-8111-111111111111"
    options = OpenKlantRegistry.parse_config({
        **section(fake), "kanalen": {"web": "webchat"},
        "tenants": {"utrecht": {"task_actor": other, "kanalen": {"whatsapp": "wa"},
                                "register_contacts": False}},
    }, "adapters.ok")
    utrecht = options.for_tenant("utrecht")
    assert utrecht is not None and utrecht.settings.task_actor == other
    assert utrecht.settings.kanalen["web"] == "webchat"
    assert utrecht.settings.kanalen["whatsapp"] == "wa" and not utrecht.register_contacts
    assert options.for_tenant("elders") is options.defaults
    with pytest.raises(ConfigIssues) as bad:
        OpenKlantRegistry.check_tenants(options, ["demo"], "adapters.ok")
    assert [i.path for i in bad.value.issues] == ["adapters.ok.tenants.utrecht"]


async def test_each_tenant_registers_in_its_own_open_klant(fake: FakeOpenKlant) -> None:
    other = FakeOpenKlant(token="ok-token-2")
    await other.start()
    session = aiohttp.ClientSession()
    try:
        options = OpenKlantRegistry.parse_config({
            **section(fake),
            "tenants": {"utrecht": {"base_url": other.url, "token": other.token,
                                    "task_actor": other.kcc, "daemon_actor": other.daemon}},
        }, "adapters.ok")
        ctx = FakeContext("ok", (TENANT, "utrecht"), http=session)
        target = OpenKlantRegistry("ok", options, ctx)
        await target.register_callback(request(tenant="utrecht"))
        await target.register_callback(request(request_id="f" * 32))
        assert len(other.all("internetaken")) == len(fake.all("internetaken")) == 1
        [task] = other.all("internetaken")
        assert [a["uuid"] for a in task["toegewezenAanActoren"]] == [other.kcc]
        await ctx.aclose()
    finally:
        await session.close()
        await other.stop()


async def test_an_open_klant_that_stops_answering_opens_the_circuit(
    fake: FakeOpenKlant, build: Build,
) -> None:
    target = build(circuit_failure_threshold=2, circuit_reset_seconds=60)
    ctx = target.ctx
    assert isinstance(ctx, FakeContext)
    fake.fail_next("GET klantcontacten", Fault.status_(503), times=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            await target.register_callback(request())
    calls = len(fake.requests)
    with pytest.raises(TransientError) as refused:
        await target.register_callback(request())
    assert len(fake.requests) == calls, "nothing is sent while the circuit is open"
    assert refused.value.retry_after is not None
    assert ctx.health[-1][0] is Health.DEGRADED


def test_the_readme_example_is_a_valid_section() -> None:
    import re
    import tomllib
    from pathlib import Path

    readme = Path(__file__).parents[3] / "adapters" / "openklant" / "README.md"
    block = re.search(r"```toml\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    assert block is not None
    section = dict(tomllib.loads(block.group(1))["adapters"]["openklant"])
    assert section.pop("type") == "openklant"
    assert section["token"] == "${OPENKLANT_UTRECHT_TOKEN}"
    section["token"] = "resolved-token-value"  # what the daemon hands over after ${...}
    options = OpenKlantRegistry.parse_config(section, "adapters.openklant")
    assert options.defaults is not None
    assert options.defaults.settings.kanalen["voiceai"] == "telefoon"


async def test_the_task_says_from_when_to_call_back_in_the_municipalitys_time(
    fake: FakeOpenKlant, build: Build,
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    opens = datetime(2026, 12, 4, 8, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    await build().register_callback(replace(request(), callback_after=opens,
                                            callback_text="morgen vanaf 08:30"))
    [task] = fake.all("internetaken")
    assert task["toelichting"] == "Referentie K7M2QP. Terugbellen vanaf 04-12-2026 08:30."
