"""What the channel sent and what Meta reported about it, in a small SQLite file.

The Graph API has no idempotency key, so a send whose answer was lost (timeout,
dropped connection) may or may not have reached the citizen. Sending again blindly
could show the message twice; giving up could lose it. Every part we send therefore
carries its own id in `biz_opaque_callback_data`, which Meta echoes in each status
webhook. A part is written here *before* it goes out; the status webhooks update it;
and a retry of an ambiguous part first looks here: a status arrived, so it was sent;
no status within `reconcile_seconds`, so Meta never took it and it is sent again.

Status webhooks arrive in any order ("read" before "sent", a "failed" after a
"sent"); a part's status only moves forward: accepted < sent < delivered < read, and
"failed" replaces anything short of delivered.

Also kept here: when each conversation's citizen last wrote (the 24-hour window).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

SENDING, AMBIGUOUS, ACCEPTED, FAILED = "sending", "ambiguous", "accepted", "failed"
_RANK = {SENDING: 0, AMBIGUOUS: 0, ACCEPTED: 1, "sent": 2, "delivered": 3, "read": 4}
#: States that prove Meta took the message.
TAKEN = frozenset({ACCEPTED, "sent", "delivered", "read"})
STATUSES = frozenset({"sent", "delivered", "read", FAILED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parts (
    part_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL DEFAULT '',
    party TEXT NOT NULL DEFAULT '',
    wamid TEXT,
    state TEXT NOT NULL,
    attempted_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS parts_wamid ON parts (wamid);
CREATE TABLE IF NOT EXISTS windows (
    conversation_id TEXT PRIMARY KEY,
    last_inbound REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Part:
    part_id: str
    conversation_id: str
    party: str
    wamid: str | None
    state: str
    attempted_at: datetime


def next_state(current: str, status: str) -> str:
    """Where a status report moves a part (reports come in any order)."""
    if status == FAILED:
        return current if current in ("delivered", "read") else FAILED
    if current == FAILED:
        return current
    return status if _RANK.get(status, 0) > _RANK.get(current, 0) else current


class SendLog:
    """The parts table and the window table; one connection, used from the event loop."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(str(self.path) if self.path else ":memory:")
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.executescript(_SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("send log not open")
        return self._db

    async def get(self, part_id: str) -> Part | None:
        async with self.db.execute(
            "SELECT part_id, conversation_id, party, wamid, state, attempted_at FROM parts "
            "WHERE part_id = ?", (part_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Part(row[0], row[1], row[2], row[3], row[4],
                    datetime.fromtimestamp(row[5], UTC))

    async def begin(self, part_id: str, conversation_id: str, party: str,
                    now: datetime) -> None:
        """Written before the request goes out: a crash after it leaves a trace."""
        await self.db.execute(
            "INSERT INTO parts (part_id, conversation_id, party, state, attempted_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (part_id) DO UPDATE SET "
            "conversation_id = excluded.conversation_id, party = excluded.party, "
            "state = CASE WHEN parts.state IN ('sending', 'ambiguous') THEN excluded.state "
            "ELSE parts.state END, attempted_at = excluded.attempted_at",
            (part_id, conversation_id, party, SENDING, now.timestamp()))
        await self.db.commit()

    async def accepted(self, part_id: str, wamid: str) -> None:
        part = await self.get(part_id)
        state = next_state(part.state if part else SENDING, ACCEPTED)
        await self.db.execute("UPDATE parts SET wamid = ?, state = ? WHERE part_id = ?",
                              (wamid, state, part_id))
        await self.db.commit()

    async def ambiguous(self, part_id: str) -> None:
        await self.db.execute(
            "UPDATE parts SET state = ? WHERE part_id = ? AND state = ?",
            (AMBIGUOUS, part_id, SENDING))
        await self.db.commit()

    async def report(self, part_id: str | None, wamid: str, status: str) -> tuple[Part, bool]:
        """Apply a status webhook; returns the part and whether its state changed.

        A status for a part we have no row for (sent by another instance, or before
        our own row was written) is kept, so a later retry still finds it."""
        part = await self.get(part_id) if part_id else None
        if part is None:
            async with self.db.execute(
                "SELECT part_id FROM parts WHERE wamid = ?", (wamid,)) as cur:
                row = await cur.fetchone()
            if row is not None:
                part = await self.get(row[0])
        if part is None:
            key = part_id or f"wamid:{wamid}"
            state = next_state(SENDING, status)
            await self.db.execute(
                "INSERT OR IGNORE INTO parts (part_id, wamid, state) VALUES (?, ?, ?)",
                (key, wamid, state))
            await self.db.commit()
            return Part(key, "", "", wamid, state, datetime.fromtimestamp(0, UTC)), True
        state = next_state(part.state, status)
        if state == part.state and part.wamid:
            return part, False
        await self.db.execute("UPDATE parts SET state = ?, wamid = COALESCE(wamid, ?) "
                              "WHERE part_id = ?", (state, wamid, part.part_id))
        await self.db.commit()
        return Part(part.part_id, part.conversation_id, part.party, part.wamid or wamid,
                    state, part.attempted_at), state != part.state

    # --- the 24-hour window -------------------------------------------------------------

    async def inbound(self, conversation_id: str, at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO windows (conversation_id, last_inbound) VALUES (?, ?) "
            "ON CONFLICT (conversation_id) DO UPDATE SET last_inbound = "
            "MAX(windows.last_inbound, excluded.last_inbound)",
            (conversation_id, at.timestamp()))
        await self.db.commit()

    async def last_inbound(self, conversation_id: str) -> datetime | None:
        async with self.db.execute(
            "SELECT last_inbound FROM windows WHERE conversation_id = ?",
            (conversation_id,)) as cur:
            row = await cur.fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row else None

    async def forget(self, part_id: str) -> None:
        """The send surely did not go out: the next attempt need not wait."""
        await self.db.execute("DELETE FROM parts WHERE part_id = ? AND state = ?",
                              (part_id, SENDING))
        await self.db.commit()

    async def windows_closing(self, after: datetime, until: datetime) -> list[str]:
        """Conversations whose window closes in (after, until]."""
        day = 86400.0
        async with self.db.execute(
            "SELECT conversation_id FROM windows WHERE last_inbound > ? AND last_inbound <= ?",
            (after.timestamp() - day, until.timestamp() - day)) as cur:
            return [r[0] for r in await cur.fetchall()]
