"""Lost answers, outages, refusals and the logs: resumable, classified, no personal data."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from adapters.openklant.client import OpenKlantClient
from handover.sdk.errors import AmbiguousSendError, AuthError, PermanentError, TransientError
from tests.adapters.openklant.conftest import EMAIL, NAME, PHONE, QUESTION, callback, finished
from tests.fakes.openklant_server import FakeOpenKlant, Fault

CALLBACK_RESOURCES = ("klantcontacten", "betrokkenen", "digitaleadressen", "internetaken",
                      "onderwerpobjecten")


def counts(fake: FakeOpenKlant, resources: tuple[str, ...]) -> dict[str, int]:
    return {r: len(fake.all(r)) for r in resources}


@pytest.mark.parametrize("step", [
    "POST maak-klantcontact", "POST digitaleadressen", "POST internetaken",
])
async def test_a_lost_answer_at_any_step_and_a_retry_make_each_object_once(
    fake: FakeOpenKlant, client: OpenKlantClient, step: str,
) -> None:
    fake.fail_next(step, Fault.lost())
    with pytest.raises(AmbiguousSendError):
        await client.register_callback_request(callback())
    result = await client.register_callback_request(callback())
    assert result.resumed
    assert counts(fake, CALLBACK_RESOURCES) == dict.fromkeys(CALLBACK_RESOURCES, 1)
    [task] = fake.all("internetaken")
    assert task["aanleidinggevendKlantcontact"]["uuid"] == result.klantcontact.uuid


async def test_a_lost_betrokkene_answer_on_a_resumed_registration(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    # A klantcontact made without its betrokkene (an Open Klant that does not make it in
    # /maak-klantcontact, or one deleted by hand): the betrokkene step is its own POST.
    fake.fail_next("POST maak-klantcontact", Fault.lost())
    with pytest.raises(AmbiguousSendError):
        await client.register_callback_request(callback())
    fake.objects["betrokkenen"].clear()
    fake.fail_next("POST betrokkenen", Fault.lost())
    with pytest.raises(AmbiguousSendError):
        await client.register_callback_request(callback())
    await client.register_callback_request(callback())
    assert counts(fake, CALLBACK_RESOURCES) == dict.fromkeys(CALLBACK_RESOURCES, 1)


async def test_every_step_lost_in_turn_still_gives_one_of_each(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    for step in ("POST maak-klantcontact", "POST digitaleadressen", "POST internetaken"):
        fake.fail_next(step, Fault.lost())
    for _ in range(3):
        with pytest.raises(AmbiguousSendError):
            await client.register_callback_request(callback())
    await client.register_callback_request(callback())
    assert counts(fake, CALLBACK_RESOURCES) == dict.fromkeys(CALLBACK_RESOURCES, 1)


async def test_lost_answers_when_registering_a_contact(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    fake.fail_next("POST maak-klantcontact", Fault.lost())
    fake.fail_next("POST actorklantcontacten", Fault.lost(), times=2)
    for _ in range(3):
        with pytest.raises(AmbiguousSendError):
            await client.register_contact(finished())
    await client.register_contact(finished())
    assert counts(fake, ("klantcontacten", "actorklantcontacten")) == {
        "klantcontacten": 1, "actorklantcontacten": 2}


async def test_a_timeout_is_ambiguous_for_a_post_and_transient_for_a_lookup(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    fake.fail_next("POST maak-klantcontact", Fault.hang(2.0))
    with pytest.raises(AmbiguousSendError, match="no answer in time"):
        await client.register_callback_request(callback())
    fake.fail_next("GET klantcontacten", Fault.hang(2.0))
    with pytest.raises(TransientError, match="no answer in time"):
        await client.register_callback_request(callback())
    await client.register_callback_request(callback())
    assert len(fake.all("klantcontacten")) == 1


@pytest.mark.parametrize(("fault", "retry_after"), [
    (Fault.status_(503), None), (Fault.status_(503, retry_after=30), 30.0),
    (Fault.status_(429, retry_after=7), 7.0), (Fault.status_(500), None),
])
async def test_outages_and_rate_limits_are_transient(
    fake: FakeOpenKlant, client: OpenKlantClient, fault: Fault, retry_after: float | None,
) -> None:
    fake.fail_next("POST internetaken", fault)
    with pytest.raises(TransientError) as exc:
        await client.register_callback_request(callback())
    assert exc.value.retry_after == retry_after
    await client.register_callback_request(callback())
    assert counts(fake, CALLBACK_RESOURCES) == dict.fromkeys(CALLBACK_RESOURCES, 1)


async def test_a_refused_token_is_an_auth_error(
    fake: FakeOpenKlant, make_client: Callable[..., OpenKlantClient],
) -> None:
    client = make_client(token="wrong-token")
    with pytest.raises(AuthError, match="401"):
        await client.register_callback_request(callback())
    with pytest.raises(AuthError):
        await client.check()
    assert fake.all("klantcontacten") == []
    fake.fail_next("GET klantcontacten", Fault.status_(403))
    with pytest.raises(AuthError, match="403"):
        await make_client().register_callback_request(callback())


async def test_a_validation_error_is_permanent_and_names_the_fields(
    fake: FakeOpenKlant, client: OpenKlantClient,
) -> None:
    fake.allowed_kanalen = {"telefoon", "email"}  # the tenant's Referentielijsten table
    with pytest.raises(PermanentError) as exc:
        await client.register_callback_request(callback())
    assert "400" in str(exc.value) and "klantcontact.kanaal (invalid)" in str(exc.value)
    assert "chat" not in str(exc.value)  # the reason quotes the value: left out


async def test_a_reference_to_a_missing_actor_is_refused_with_its_field(
    fake: FakeOpenKlant, make_client: Callable[..., OpenKlantClient],
) -> None:
    client = make_client(task_actor="00000000-0000-4000-8000-000000000000")
    with pytest.raises(PermanentError, match=r"toegewezenAanActoren\.0\.uuid \(does_not_exist\)"):
        await client.register_callback_request(callback())


async def test_no_personal_data_or_token_in_logs_or_errors(
    fake: FakeOpenKlant, make_client: Callable[..., OpenKlantClient],
) -> None:
    client = make_client()
    secrets = [PHONE, EMAIL, NAME, QUESTION, fake.token, "Liefst na 09:00"]
    seen: list[str] = []
    with capture_logs() as logs:
        faults = (Fault.lost(), Fault.status_(503), Fault.status_(429, retry_after=3))
        for number, fault in enumerate(faults):
            fake.fail_next("POST digitaleadressen", fault)
            with pytest.raises((AmbiguousSendError, TransientError)) as exc:
                await client.register_callback_request(callback(registration_id=f"f{number}"))
            seen.append(str(exc.value))
        fake.allowed_kanalen = {"telefoon"}
        with pytest.raises(PermanentError) as refused:
            await client.register_callback_request(callback(registration_id="cb-2"))
        seen.append(str(refused.value))
        with pytest.raises(AuthError) as auth:
            await make_client(token="other-token").register_callback_request(callback())
        seen.append(str(auth.value))
        await client.register_callback_request(callback(channel="voiceai"))
        seen.append(repr(callback()))
        seen.append(repr(client.settings))
    text = json.dumps(logs, default=str) + "\n".join(seen)
    assert logs, "the failures were logged"
    for secret in [*secrets, "other-token"]:
        assert secret not in text, secret
