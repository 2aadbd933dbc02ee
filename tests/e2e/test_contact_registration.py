"""Finished human contacts are registered (klantcontact) at the targets that take them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from handover.clock import FakeClock
from handover.model import thread_id
from handover.sdk.testing import MemoryRegistry
from tests.harness import TENANT, running

CONTACTS: dict[str, Any] = {
    "adapters": {"kcc-register": {"type": "memory_registry"}},
    "tenants": {TENANT: {"registries": ["kcc-register"], "survey": {"enabled": False}}},
}


async def test_a_closed_chat_is_registered_with_agent_topic_and_no_transcript(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    async with running(tmp_path, CONTACTS, clock=clock) as r:
        target = cast(MemoryRegistry, r.daemon.adapters["kcc-register"])
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        clock.advance(60)
        await r.desk.join(thread, "Sanne", agent_id="emp-7")
        await r.desk.reply(thread, "Goedemorgen")
        clock.advance(300)
        await r.desk.close(thread, "resolved", summary="Paspoort: afspraak gemaakt")
        await r.settle()
        [record] = target.contacts.values()
        assert record.record_id == thread
        assert (record.outcome, record.succeeded) == ("resolved", True)
        assert (record.agent_name, record.agent_id) == ("Sanne", "emp-7")
        assert record.topic == "test" and record.content == "test"  # content = "topic"
        assert record.transcript == ()
        assert (record.ended_at - record.started_at).total_seconds() == 360
        assert not target.callbacks


async def test_summary_and_transcript_only_when_configured(tmp_path: Path) -> None:
    extra = {**CONTACTS, "tenants": {TENANT: {
        **CONTACTS["tenants"][TENANT],
        "registration": {"content": "summary", "transcript": True},
    }}}
    async with running(tmp_path, extra) as r:
        target = cast(MemoryRegistry, r.daemon.adapters["kcc-register"])
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.desk.join(thread, "Sanne")
        await r.desk.close(thread, "resolved", summary="Afspraak gemaakt")
        await r.settle()
        [record] = target.contacts.values()
        assert record.content == "Afspraak gemaakt" and record.agent_id is None
        assert [e.content.text for e in record.transcript][:1] == ["/handover"]


async def test_leaving_the_queue_is_an_unsuccessful_contact(tmp_path: Path) -> None:
    async with running(tmp_path, CONTACTS) as r:
        target = cast(MemoryRegistry, r.daemon.adapters["kcc-register"])
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.chat.leave(conv.id)
        await r.settle()
        [record] = target.contacts.values()
        assert (record.outcome, record.succeeded, record.agent_name) == (
            "citizen_left", False, None)


async def test_no_contacts_when_the_tenant_turns_them_off(tmp_path: Path) -> None:
    extra = {**CONTACTS, "tenants": {TENANT: {
        **CONTACTS["tenants"][TENANT], "registration": {"contacts": False}}}}
    async with running(tmp_path, extra) as r:
        target = cast(MemoryRegistry, r.daemon.adapters["kcc-register"])
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.desk.join(thread, "Sanne")
        await r.desk.close(thread)
        await r.settle()
        assert not target.contacts
