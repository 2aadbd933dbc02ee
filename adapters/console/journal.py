"""The console's own durable memory: its desk threads, who holds them, and desk notes.

Kept in a small SQLite file of its own (aiosqlite), separate from the core's store: the
core knows the conversation and its transcript, but not which agent of this console took
a thread, when it was queued here, or the notes the daemon sent the agent. Together with
the core's store this rebuilds the whole view after a restart.

The claim of a thread is one conditional UPDATE, so two agents racing for the same thread
cannot both win, whatever the interleaving of their requests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiosqlite

__all__ = ["Journal", "Note", "Status", "ThreadRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id       TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    language        TEXT NOT NULL,
    signal          TEXT,
    context         TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    status          TEXT NOT NULL,
    agent_id        TEXT,
    agent_name      TEXT,
    taken_at        TEXT,
    closed_at       TEXT,
    outcome         TEXT,
    close_reason    TEXT
);
CREATE INDEX IF NOT EXISTS threads_by_status ON threads (status, opened_at);
CREATE TABLE IF NOT EXISTS notes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL REFERENCES threads (thread_id),
    text      TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_thread ON notes (thread_id, id);
"""
SCHEMA_VERSION = 1


class Status(StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ThreadRow:
    thread_id: str
    conversation_id: str
    tenant: str
    channel: str
    language: str
    #: The handover signal as JSON; None for a thread known only from a later event.
    signal: Mapping[str, Any] | None
    context: Mapping[str, Any]
    opened_at: datetime
    status: Status
    agent_id: str | None = None
    agent_name: str | None = None
    taken_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    close_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    at: datetime


class Journal:
    """The threads of one console instance. `open()` before use, `close()` after."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        target = ":memory:"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        db = await aiosqlite.connect(target)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        # An agent's claim must survive a crash right after it was acknowledged.
        await db.execute("PRAGMA synchronous=FULL")
        (version,) = await (await db.execute("PRAGMA user_version")).fetchone()  # type: ignore[misc]
        if version > SCHEMA_VERSION:
            await db.close()
            raise RuntimeError(
                f"{target} was written by a newer console (schema {version}); refusing to use it"
            )
        await db.executescript(_SCHEMA)
        await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        await db.commit()
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the console journal is not open")
        return self._db

    # --- writing --------------------------------------------------------------------

    async def add_thread(self, row: ThreadRow) -> bool:
        """Record a thread; False when it is known already (a re-delivered open)."""
        cursor = await self.db.execute(
            "INSERT INTO threads (thread_id, conversation_id, tenant, channel, language, "
            "signal, context, opened_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (thread_id) DO NOTHING",
            (
                row.thread_id, row.conversation_id, row.tenant, row.channel, row.language,
                None if row.signal is None else json.dumps(row.signal, ensure_ascii=False),
                json.dumps(row.context, ensure_ascii=False), row.opened_at.isoformat(),
                row.status.value,
            ),
        )
        await self.db.commit()
        return cursor.rowcount == 1

    async def claim(
        self, thread_id: str, agent_id: str, agent_name: str, at: datetime
    ) -> ThreadRow | None:
        """Give a queued thread to an agent. Returns the thread as it now is; its
        `agent_id` tells whether this agent holds it (also when it already did)."""
        await self.db.execute(
            "UPDATE threads SET status = ?, agent_id = ?, agent_name = ?, taken_at = ? "
            "WHERE thread_id = ? AND status = ? AND agent_id IS NULL",
            (Status.ACTIVE.value, agent_id, agent_name, at.isoformat(), thread_id,
             Status.QUEUED.value),
        )
        await self.db.commit()
        return await self.get(thread_id)

    async def release(self, thread_id: str, agent_id: str) -> None:
        """Undo a claim the core did not accept."""
        await self.db.execute(
            "UPDATE threads SET status = ?, agent_id = NULL, agent_name = NULL, taken_at = NULL "
            "WHERE thread_id = ? AND agent_id = ? AND status = ?",
            (Status.QUEUED.value, thread_id, agent_id, Status.ACTIVE.value),
        )
        await self.db.commit()

    async def close_thread(
        self, thread_id: str, at: datetime, *, outcome: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Mark a thread closed; False when it was closed already (the first close
        keeps its outcome and reason)."""
        cursor = await self.db.execute(
            "UPDATE threads SET status = ?, closed_at = ?, outcome = ?, close_reason = ? "
            "WHERE thread_id = ? AND status != ?",
            (Status.CLOSED.value, at.isoformat(), outcome, reason, thread_id,
             Status.CLOSED.value),
        )
        await self.db.commit()
        return cursor.rowcount == 1

    async def forget_closed(self, before: datetime) -> int:
        """Delete threads closed before `before` with their notes: the console keeps
        no personal data (page context, notes) longer than it shows it."""
        stale = "SELECT thread_id FROM threads WHERE status = ? AND closed_at < ?"
        args = (Status.CLOSED.value, before.isoformat())
        await self.db.execute(f"DELETE FROM notes WHERE thread_id IN ({stale})", args)
        cursor = await self.db.execute(f"DELETE FROM threads WHERE thread_id IN ({stale})", args)
        await self.db.commit()
        return cursor.rowcount

    async def add_note(self, thread_id: str, text: str, at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO notes (thread_id, text, at) VALUES (?, ?, ?)",
            (thread_id, text, at.isoformat()),
        )
        await self.db.commit()

    # --- reading --------------------------------------------------------------------

    async def get(self, thread_id: str) -> ThreadRow | None:
        cursor = await self.db.execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        row = await cursor.fetchone()
        return None if row is None else _thread(row)

    async def threads(
        self, tenants: Sequence[str], closed_since: datetime, limit: int = 500
    ) -> list[ThreadRow]:
        """Open threads of these tenants, and those closed since `closed_since`, oldest
        first (the longest-waiting citizen on top)."""
        if not tenants:
            return []
        marks = ",".join("?" * len(tenants))
        cursor = await self.db.execute(
            f"SELECT * FROM threads WHERE tenant IN ({marks}) "
            "AND (status != ? OR closed_at >= ?) ORDER BY opened_at, thread_id LIMIT ?",
            (*tenants, Status.CLOSED.value, closed_since.isoformat(), limit),
        )
        return [_thread(r) for r in await cursor.fetchall()]

    async def queued_count(self, tenant: str) -> int:
        cursor = await self.db.execute(
            "SELECT count(*) FROM threads WHERE tenant = ? AND status = ?",
            (tenant, Status.QUEUED.value),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def notes(self, thread_id: str) -> list[Note]:
        cursor = await self.db.execute(
            "SELECT text, at FROM notes WHERE thread_id = ? ORDER BY id", (thread_id,)
        )
        return [Note(r["text"], datetime.fromisoformat(r["at"])) for r in await cursor.fetchall()]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _thread(r: aiosqlite.Row) -> ThreadRow:
    return ThreadRow(
        thread_id=r["thread_id"], conversation_id=r["conversation_id"], tenant=r["tenant"],
        channel=r["channel"], language=r["language"],
        signal=json.loads(r["signal"]) if r["signal"] else None,
        context=json.loads(r["context"]), opened_at=datetime.fromisoformat(r["opened_at"]),
        status=Status(r["status"]), agent_id=r["agent_id"], agent_name=r["agent_name"],
        taken_at=_when(r["taken_at"]), closed_at=_when(r["closed_at"]), outcome=r["outcome"],
        close_reason=r["close_reason"],
    )  # fmt: skip
