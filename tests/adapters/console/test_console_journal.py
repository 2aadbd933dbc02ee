"""The console's journal on its own (records in `ctx.state`): claims, closes, notes and
forgetting, with two journals on one state playing two daemon instances."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.console.journal import Journal, Status, ThreadRow
from adapters.console.notes import InternalNote, InternalNotes
from handover.sdk.testing import FakeClock, MemoryState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def thread(thread_id: str, tenant: str = "demo") -> ThreadRow:
    return ThreadRow(
        thread_id=thread_id, conversation_id=thread_id.rsplit("-", 1)[0], tenant=tenant,
        channel="web", language="nl", signal={"reason": "citizen_request"},
        context={"url": "https://gemeente.example/"}, opened_at=T0, status=Status.QUEUED,
    )


async def test_claim_is_first_come_across_instances() -> None:
    state = MemoryState(FakeClock())
    a, b = Journal(state), Journal(state)
    assert await a.add_thread(thread("a-1"))
    assert not await b.add_thread(thread("a-1")), "a re-delivered open is a no-op"
    won, lost = await asyncio.gather(
        a.claim("a-1", "sanne", "Sanne", T0), b.claim("a-1", "ahmed", "Ahmed", T0)
    )
    assert won is not None and won.agent_id == "sanne" and won.status is Status.ACTIVE
    assert lost is not None and lost.agent_id == "sanne"
    row = await b.get("a-1")
    assert row is not None and (row.agent_name, row.status) == ("Sanne", Status.ACTIVE)
    await b.release("a-1", "ahmed")  # not the holder: nothing changes
    assert (await a.get("a-1")).agent_id == "sanne"  # type: ignore[union-attr]
    await a.release("a-1", "sanne")
    assert (await b.get("a-1")).status is Status.QUEUED  # type: ignore[union-attr]


async def test_closed_threads_are_forgotten_with_their_notes() -> None:
    state = MemoryState(FakeClock())
    journal = Journal(state)
    for tid in ("a-1", "b-1"):
        await journal.add_thread(thread(tid))
        await journal.add_note(tid, "De inwoner heeft het gesprek verlaten.", T0)
    await journal.add_note("a-1", "Tweede", T0 + timedelta(seconds=1))
    assert [n.text for n in await journal.notes("a-1")][-1] == "Tweede"
    assert await journal.close_thread("a-1", T0, reason="citizen_left")
    assert not await journal.close_thread("a-1", T0, outcome="resolved"), "the first close stays"
    assert (await journal.get("a-1")).close_reason == "citizen_left"  # type: ignore[union-attr]
    assert await journal.queued_count("demo") == 1

    assert await journal.forget_closed(T0 + timedelta(seconds=1)) == 1
    assert await journal.get("a-1") is None and await journal.notes("a-1") == []
    assert await journal.get("b-1") is not None and len(await journal.notes("b-1")) == 1
    assert [r.thread_id for r in await journal.threads(["demo"], T0)] == ["b-1"]
    assert await journal.threads(["elders"], T0) == []


async def test_erasing_the_conversation_removes_thread_and_notes() -> None:
    state = MemoryState(FakeClock())
    journal = Journal(state)
    await journal.add_thread(thread("a-1"))
    await journal.add_note("a-1", "Jan de Vries belde eerder", T0)
    assert state.erase_conversation("a") == 2
    assert await journal.get("a-1") is None and await journal.notes("a-1") == []


async def test_internal_notes_go_with_their_thread_and_their_conversation() -> None:
    state = MemoryState(FakeClock())
    journal, notes = Journal(state), InternalNotes(state)
    for tid in ("a-1", "b-1"):
        await journal.add_thread(thread(tid))
        row = await journal.get(tid)
        assert row is not None
        assert await notes.add(row, InternalNote("n1", "Zaak Z-1 loopt al", T0, "sanne", "Sanne"))
        assert not await notes.add(row, InternalNote("n1", "opnieuw", T0, "sanne", "Sanne"))
    assert [n.text for n in await notes.of("a-1")] == ["Zaak Z-1 loopt al"]
    await journal.close_thread("a-1", T0, reason="agent")
    assert await journal.forget_closed(T0 + timedelta(seconds=1)) == 1
    assert await notes.of("a-1") == [] and len(await notes.of("b-1")) == 1
    assert state.erase_conversation("b") == 2
    assert await notes.of("b-1") == []


async def test_a_hand_off_lands_once_and_only_for_the_holder() -> None:
    state = MemoryState(FakeClock())
    a, b = Journal(state), Journal(state)
    await a.add_thread(thread("a-1"))
    taken = await a.claim("a-1", "sanne", "Sanne", T0)
    assert taken is not None
    # Two instances hand the same pick-up back at once: one does it.
    results = await asyncio.gather(
        a.requeue("a-1", "sanne", "Sanne", kind="reoffer", held_since=taken.taken_at),
        b.requeue("a-1", "sanne", "Sanne", kind="reoffer", held_since=taken.taken_at),
    )
    assert sum(r is not None for r in results) == 1
    row = await a.get("a-1")
    assert row is not None and (row.status, row.handoffs) == (Status.QUEUED, 1)
    # Not the holder: no transfer.
    await a.claim("a-1", "ahmed", "Ahmed", T0)
    assert await a.hand_over("a-1", "sanne", "Sanne", "piet", "Piet", T0) is None
    moved = await b.hand_over("a-1", "ahmed", "Ahmed", "sanne", "Sanne", T0)
    assert moved is not None and (moved.agent_id, moved.handoffs) == ("sanne", 2)
    assert moved.handoff == {"kind": "transfer", "from": "Ahmed"}
