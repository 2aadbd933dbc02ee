"""The callback request end to end in-process: memory channels, real SQLite, real
workers, the memory registration target. Outside opening hours the citizen is offered
a callback instead of a queue; completing it registers exactly one request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from handover.clock import FakeClock
from handover.engine.outbox import RegistryCallbackPayload, outbox_item
from handover.evaluation import retention
from handover.model import Party, State
from handover.sdk.errors import AuthError, PermanentError, TransientError
from handover.sdk.registration import AddressKind, CallbackRequest
from handover.sdk.testing import MemoryRegistry
from handover.store import Step
from tests.harness import TENANT, Running, running

# Monday 2 March 2026, 07:00 in Amsterdam: the KCC opens at 08:30.
MONDAY_EARLY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
CALLBACK: dict[str, Any] = {
    "adapters": {"kcc-register": {"type": "memory_registry"}},
    "tenants": {TENANT: {
        "registries": ["kcc-register"],
        "callback": {"enabled": True},
        "hours": {"timezone": "Europe/Amsterdam", "monday": ["08:30-17:00"]},
    }},
}


def registry(r: Running) -> MemoryRegistry:
    return cast(MemoryRegistry, r.daemon.adapters["kcc-register"])


async def state_of(r: Running, conversation_id: str) -> State:
    conv = await r.daemon.store.get_conversation(conversation_id)
    assert conv is not None
    return conv.state


async def test_web_outside_hours_callback_is_registered_once(tmp_path: Path) -> None:
    async with running(tmp_path, CALLBACK, clock=FakeClock(MONDAY_EARLY)) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "Mijn container is niet geleegd")
        await r.settle()
        await r.chat.request_agent(conv.id)
        await r.settle()
        offer = r.chat.shown[conv.id][-1]
        assert "contact met u opneemt" in offer.content.text
        assert [b.payload for b in offer.content.buttons] == ["/callback_yes", "/callback_no"]
        assert await state_of(r, conv.id) is State.CALLBACK

        await r.chat.say(conv.id, "Ja, graag", payload="/callback_yes")
        await r.chat.say(conv.id, "06 1234")  # too short: asked again
        await r.settle()
        assert "geen telefoonnummer of e-mailadres" in r.chat.texts(conv.id)[-1]
        await r.chat.say(conv.id, "06-12345678")
        await r.chat.say(conv.id, "Jan Jansen")
        await r.settle()
        question = r.chat.shown[conv.id][-1]
        assert "Mijn container is niet geleegd" in question.content.text
        await r.chat.say(conv.id, "Deze vraag", payload="/callback_same")
        await r.settle()

        confirmed = r.chat.texts(conv.id)[-1]
        assert "vandaag vanaf 08:30" in confirmed
        assert await state_of(r, conv.id) is State.BOT
        [request] = registry(r).callbacks.values()
        assert request.reference in confirmed and len(request.reference) == 6
        assert (request.address_kind, request.address) == (AddressKind.PHONE, "+31612345678")
        assert (request.name, request.question) == ("Jan Jansen", "Mijn container is niet geleegd")
        assert request.channel_type == "memory_channel" and request.language == "nl"
        assert request.callback_after == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
        assert registry(r).offered == {request.request_id: 1}
        # Nothing personal stays in the conversation's context.
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None and "callback" not in stored.context
        events = [e.event for e in await r.daemon.store.handover_events(TENANT)]
        assert events == [
            "outside_hours", "callback_offered", "callback_completed", "callback_registered",
        ]
        # The bot goes on afterwards.
        await r.chat.say(conv.id, "Bedankt")
        await r.settle()
        assert r.chat.texts(conv.id)[-1] == "bot: Bedankt"


async def test_declining_stores_nothing(tmp_path: Path) -> None:
    async with running(tmp_path, CALLBACK, clock=FakeClock(MONDAY_EARLY)) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        await r.chat.say(conv.id, "nee")
        await r.settle()
        assert "niets bewaard" in r.chat.texts(conv.id)[-1]
        assert await state_of(r, conv.id) is State.BOT
        assert not registry(r).callbacks
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None and "callback" not in stored.context
        events = [e.event for e in await r.daemon.store.handover_events(TENANT)]
        assert events == ["outside_hours", "callback_offered", "callback_declined"]


async def test_whatsapp_typed_answers_and_email(tmp_path: Path) -> None:
    extra = {**CALLBACK, "adapters": {**CALLBACK["adapters"],
                                      "chat": {"type": "memory_channel", "max_buttons": 0}}}
    async with running(tmp_path, extra, clock=FakeClock(MONDAY_EARLY)) as r:
        conv = await r.chat.open(TENANT, language="en")
        await r.chat.say(conv.id, "When is the bin collected?")
        await r.settle()
        await r.chat.request_agent(conv.id)
        await r.settle()
        offer = r.chat.texts(conv.id)[-1]
        assert "1. Yes, please" in offer and "2. No, thanks" in offer
        await r.chat.say(conv.id, "1")  # the numbered choice
        await r.chat.say(conv.id, "not an address")
        await r.settle()
        assert "not a phone number or e-mail address" in r.chat.texts(conv.id)[-1]
        await r.chat.say(conv.id, "Jan@Example.NL")
        await r.chat.say(conv.id, "skip")
        await r.chat.say(conv.id, "My bin was not emptied on Friday")
        await r.settle()
        [request] = registry(r).callbacks.values()
        assert (request.address_kind, request.address) == (AddressKind.EMAIL, "Jan@example.nl")
        assert request.name is None and request.question == "My bin was not emptied on Friday"
        assert "today from 08:30" in r.chat.texts(conv.id)[-1]


async def test_phone_offers_the_callers_number_and_spells_the_reference(tmp_path: Path) -> None:
    extra = {**CALLBACK, "adapters": {**CALLBACK["adapters"],
                                      "chat": {"type": "memory_channel", "max_buttons": 0,
                                               "spoken": True}}}
    async with running(tmp_path, extra, clock=FakeClock(MONDAY_EARLY)) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "Ik wil een parkeervergunning", context={
            "caller_number": "+31 6 87654321"})
        await r.settle()
        await r.chat.request_agent(conv.id)
        await r.chat.say(conv.id, "ja")
        await r.settle()
        assert "eindigt op 21" in r.chat.texts(conv.id)[-1]
        await r.chat.say(conv.id, "ja")
        await r.chat.say(conv.id, "Piet")
        await r.chat.say(conv.id, "ja")  # yes, the question it suggested
        await r.settle()
        [request] = registry(r).callbacks.values()
        assert request.address == "+31687654321"
        assert request.question == "Ik wil een parkeervergunning"
        assert " ".join(request.reference) in r.chat.texts(conv.id)[-1]


async def settle_with_retries(r: Running, clock: FakeClock) -> None:
    """Let delivery run, moving the clock past retry backoffs."""
    for _ in range(100):
        depth, _age = await r.daemon.store.outbox_stats(clock.now())
        if depth == 0:
            break
        clock.advance(0.1)
        r.daemon.wake_delivery()
        await asyncio.sleep(0.02)
    await r.settle()


async def test_failed_registrations_are_retried_or_dead_lettered_silently(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY_EARLY)
    async with running(tmp_path, CALLBACK, clock=clock) as r:
        target = registry(r)
        for error in (TransientError("503"), PermanentError("400"), AuthError("401")):
            target.faults.fail_next(error)
            conv = await r.chat.open(TENANT)
            await r.chat.request_agent(conv.id)
            await r.chat.say(conv.id, "ja")
            await r.chat.say(conv.id, "0612345678")
            await r.chat.say(conv.id, "-")
            await r.chat.say(conv.id, "Mijn vraag")
            await settle_with_retries(r, clock)
            shown = len(r.chat.shown[conv.id])
            assert await state_of(r, conv.id) is State.BOT
            # The citizen hears nothing of what happened to the registration.
            await r.settle()
            assert len(r.chat.shown[conv.id]) == shown
            assert r.chat.shown[conv.id][-1].party is Party.SYSTEM
        # The transient failure was retried and registered; the others dead-lettered.
        assert len(target.callbacks) == 1
        dead = await r.daemon.store.dead_letters()
        assert sorted(d.reason.split(":")[0] for d in dead) == ["auth", "permanent"]
        assert {d.kind for d in dead} == {"registry.callback"}


async def test_erasure_and_retention_take_the_request_data_everywhere(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_EARLY)
    async with running(tmp_path, CALLBACK, clock=clock) as r:
        store = r.daemon.store
        target = registry(r)
        # One request whose registration failed for good (its payload is in the dead
        # letters), one citizen halfway (the address is in the conversation's context).
        target.faults.fail_next(PermanentError("400"))
        done = await r.chat.open(TENANT)
        await r.chat.request_agent(done.id)
        for answer in ("ja", "0612345678", "Jan", "Mijn vraag"):
            await r.chat.say(done.id, answer)
        halfway = await r.chat.open(TENANT)
        await r.chat.request_agent(halfway.id)
        await r.chat.say(halfway.id, "ja")
        await r.chat.say(halfway.id, "jan@voorbeeld.nl")
        await r.settle()
        assert [d.conversation_id for d in await store.dead_letters()] == [done.id]
        partial = await store.get_conversation(halfway.id)
        assert partial is not None and partial.context["callback"]["address"] == (
            "jan@voorbeeld.nl")

        # Erasure on request: the dead-lettered registration goes with the rest.
        assert await store.erase_conversation(done.id)
        assert await store.dead_letters() == []
        assert await store.transcript_tail(done.id, 100) == []

        # Retention: after bodies_days (30 by default) the half-taken request is gone.
        await retention.purge(store, r.daemon.config.tenants, clock.now() + timedelta(days=31))
        purged = await store.get_conversation(halfway.id)
        assert purged is not None and purged.context == {}
        assert await store.transcript_tail(halfway.id, 100) == []


async def test_a_registration_for_an_adapter_no_longer_configured_is_dead_lettered(
    tmp_path: Path,
) -> None:
    # A row written under an earlier configuration that named another target: the
    # worker cannot resolve it, and retrying would not help.
    async with running(tmp_path, CALLBACK, clock=FakeClock(MONDAY_EARLY)) as r:
        conv = await r.chat.open(TENANT)
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None
        request = CallbackRequest(
            request_id="f" * 32, reference="ACDEFH", tenant=TENANT, conversation_id=conv.id,
            channel="chat", channel_type="memory_channel", language="nl",
            placed_at=MONDAY_EARLY, address_kind=AddressKind.PHONE, address="+31612345678",
            question="Mijn vraag",
        )
        payload = RegistryCallbackPayload(target="removed-register", request=request)
        item = outbox_item(conv.id, payload, stored.epoch, "corr")
        await r.daemon.store.commit(Step(stored, outbox=[item]))
        r.daemon.wake_delivery()
        await r.settle()
        [dead] = await r.daemon.store.dead_letters()
        assert (dead.kind, dead.reason) == ("registry.callback", "permanent: no such adapter")
        assert not registry(r).callbacks
        assert r.chat.shown[conv.id] == []
