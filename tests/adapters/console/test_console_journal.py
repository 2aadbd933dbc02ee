"""The console's journal file on its own: claims, closes and forgetting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.console.journal import SCHEMA_VERSION, Journal, Status, ThreadRow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def thread(thread_id: str, tenant: str = "demo") -> ThreadRow:
    return ThreadRow(
        thread_id=thread_id, conversation_id=thread_id.rsplit("-", 1)[0], tenant=tenant,
        channel="web", language="nl", signal={"reason": "citizen_request"},
        context={"url": "https://gemeente.example/"}, opened_at=T0, status=Status.QUEUED,
    )


async def test_claim_is_first_come_and_survives_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "c.db")
    await journal.open()
    assert await journal.add_thread(thread("a-1"))
    assert not await journal.add_thread(thread("a-1")), "a re-delivered open is a no-op"
    won = await journal.claim("a-1", "sanne", "Sanne", T0)
    lost = await journal.claim("a-1", "ahmed", "Ahmed", T0)
    assert won is not None and won.agent_id == "sanne" and won.status is Status.ACTIVE
    assert lost is not None and lost.agent_id == "sanne"
    await journal.close()

    journal = Journal(tmp_path / "c.db")
    await journal.open()
    row = await journal.get("a-1")
    assert row is not None and (row.agent_name, row.status) == ("Sanne", Status.ACTIVE)
    await journal.release("a-1", "ahmed")  # not the holder: nothing changes
    assert (await journal.get("a-1")).agent_id == "sanne"  # type: ignore[union-attr]
    await journal.close()


async def test_closed_threads_are_forgotten_with_their_notes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "c.db")
    await journal.open()
    for tid in ("a-1", "b-1"):
        await journal.add_thread(thread(tid))
        await journal.add_note(tid, "De inwoner heeft het gesprek verlaten.", T0)
    assert await journal.close_thread("a-1", T0, reason="citizen_left")
    assert not await journal.close_thread("a-1", T0, outcome="resolved"), "the first close stays"
    assert (await journal.get("a-1")).close_reason == "citizen_left"  # type: ignore[union-attr]

    assert await journal.forget_closed(T0 + timedelta(seconds=1)) == 1
    assert await journal.get("a-1") is None and await journal.notes("a-1") == []
    assert await journal.get("b-1") is not None and len(await journal.notes("b-1")) == 1
    assert [r.thread_id for r in await journal.threads(["demo"], T0)] == ["b-1"]
    assert await journal.threads(["elders"], T0) == []
    await journal.close()


async def test_a_journal_from_a_newer_console_is_refused(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer console"):
        await Journal(tmp_path / "c.db").open()
