"""A callback request posted to OBI4wan as a note in a thread of its own: once, with what
the agent needs to call back, and never mistaken for a live conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.obi4wan.adapter import Obi4wanDesk
from handover.sdk.errors import AmbiguousSendError, PermanentError, TransientError
from handover.sdk.registration import AddressKind, CallbackRequest, RegistrationTarget
from handover.sdk.testing import TENANT, Fault
from tests.adapters.obi4wan.conftest import Desk

PHONE = "+31612345678"
QUESTION = "Mijn container is niet geleegd, kunt u mij bellen?"
REQUEST_ID = "c" * 32
THREAD = f"callback:{REQUEST_ID}"


def request(**changes: Any) -> CallbackRequest:
    values: dict[str, Any] = dict(
        request_id=REQUEST_ID, reference="K7M2QP", tenant=TENANT, conversation_id="conv-1",
        channel="gem", channel_type="whatsapp", language="nl",
        placed_at=datetime(2026, 3, 2, 17, 30, tzinfo=UTC), address_kind=AddressKind.PHONE,
        address=PHONE, question=QUESTION, name="Jan Jansen", topic="waste",
        topic_label="Afval", callback_text="Morgen tussen 09:00 en 12:00",
    )
    values.update(changes)
    return CallbackRequest(**values)


Factory = Callable[..., Awaitable[Desk]]


async def test_the_request_becomes_one_note_in_a_thread_of_its_own(
    desk_factory: Factory,
) -> None:
    d = await desk_factory(callback_note=True)
    assert isinstance(d.adapter, RegistrationTarget) and d.adapter.registers_callbacks
    receipt = await d.adapter.register_callback(request())
    [note] = d.fake.posts(THREAD, "note")
    assert receipt.external_id is not None and receipt.external_id.endswith(note["id"])
    assert note["title"] == "Contactverzoek K7M2QP: Afval"
    assert note["published"] == "2026-03-02T17:30:00+00:00"
    content = note["content"]
    assert content.startswith("Contactverzoek K7M2QP (demo)")
    assert "geen live gesprek" in content
    for shown in ("Geplaatst: 02-03-2026 18:30 via WhatsApp", "Onderwerp: Afval",
                  "Naam: Jan Jansen", f"Bereikbaar via telefoon: {PHONE}",
                  "Terugbellen: Morgen tussen 09:00 en 12:00", QUESTION):
        assert shown in content, shown
    assert note["metadata"]["kind"] == "callback_request"
    assert note["metadata"]["callback"]["address"] == PHONE


async def test_an_e_mail_request_without_name_or_topic(desk_factory: Factory) -> None:
    d = await desk_factory(callback_note=True)
    await d.adapter.register_callback(request(
        address_kind=AddressKind.EMAIL, address="a@example.nl", name=None, topic=None,
        topic_label=None, callback_text=None, channel_type="web"))
    [note] = d.fake.posts(THREAD, "note")
    assert note["title"] == "Contactverzoek K7M2QP"
    assert "Bereikbaar via e-mail: a@example.nl" in note["content"]
    assert "Naam: niet opgegeven" in note["content"] and "Onderwerp" not in note["content"]
    assert "via de chat op de website" in note["content"]


@pytest.mark.parametrize("fault", [Fault.lost(), Fault.http(503), Fault.hang(1.0)])
async def test_a_resend_after_a_failure_shows_the_request_once(
    desk_factory: Factory, fault: Fault,
) -> None:
    d = await desk_factory(callback_note=True)
    d.fake.fail_next("ingest", fault)
    with pytest.raises((AmbiguousSendError, TransientError)):
        await d.adapter.register_callback(request())
    await d.adapter.register_callback(request())
    await d.adapter.register_callback(request())
    assert len(d.fake.posts(THREAD, None)) == 1
    assert Obi4wanDesk.resend_safe


async def test_without_callback_note_the_request_is_refused_loudly(
    desk_factory: Factory,
) -> None:
    d = await desk_factory()
    with pytest.raises(PermanentError, match="callback_note"):
        await d.adapter.register_callback(request())
    assert not d.fake.calls_to("ingest")


async def test_a_request_of_another_tenant_is_refused(desk_factory: Factory) -> None:
    d = await desk_factory(callback_note=True)
    with pytest.raises(PermanentError):
        await d.adapter.register_callback(request(tenant="elders"))
    assert not d.fake.calls_to("ingest")


async def test_agent_events_on_the_request_thread_reach_no_conversation(
    desk_factory: Factory,
) -> None:
    d = await desk_factory(callback_note=True)
    await d.adapter.register_callback(request())
    for answer in (await d.fake.join(THREAD), await d.fake.say(THREAD, "Ik bel u zo"),
                   await d.fake.close(THREAD)):
        assert answer == (200, {"outcome": "ignored", "reason": "unknown_thread"})
    assert d.ctx.events == []


async def test_no_personal_data_in_the_logs(desk_factory: Factory) -> None:
    d = await desk_factory(callback_note=True)
    d.fake.fail_next("ingest", Fault.lost())
    with capture_logs() as logs:
        with pytest.raises(AmbiguousSendError):
            await d.adapter.register_callback(request())
        await d.adapter.register_callback(request())
    text = str(logs)
    assert "obi4wan.callback_posted" in text
    for secret in (PHONE, QUESTION, "Jan Jansen", "Morgen tussen", d.fake.channel_token):
        assert secret not in text


def minimal_section() -> dict[str, Any]:
    return {"api_url": "https://api.obi4wan.example", "channel_identifier": "c",
            "channel_token": "t", "chat_guid": "g", "webhook_secret": "s"}


def test_callback_note_is_an_option() -> None:
    options = Obi4wanDesk.parse_config({**minimal_section(), "callback_note": True},
                                       "adapters.kcc")
    assert options.callback_note
    assert not Obi4wanDesk.parse_config(minimal_section(), "adapters.kcc").callback_note
