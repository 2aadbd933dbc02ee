"""The outbox and the dead letters, for the SQLite engine.

One process owns a SQLite file, so a claim is simple: the writer runs it as one job,
and the `is_head` column (kept by triggers, see 0001_init.sql) marks the only item of
each queue that may be handed out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from handover.model import DeadLetter, OutboxRow, Target
from handover.store.contract import DeadLetterStore, OutboxStore, Step
from handover.store.sqlite.database import SQLiteDatabase
from handover.store.sqlite.rows import (
    dead_letter_from,
    from_ts,
    outbox_row_from,
    to_json,
    to_ts,
)

_OUTBOX_COLUMNS = (
    "o.id, o.conversation_id, c.tenant, o.target, o.kind, o.payload, o.epoch, "
    "o.correlation_id, o.created_at, o.attempts, o.in_flight, o.last_error"
)
OUTBOX_INSERT = (
    "INSERT INTO outbox (conversation_id, target, kind, payload, epoch, correlation_id, "
    "created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)"
)
# is_head = 1 lets the partial index outbox_ready_heads drive this (see 0001_init.sql).
CLAIM = (
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox AS o "
    "JOIN conversations AS c ON c.id = o.conversation_id "
    "WHERE o.is_head = 1 AND o.next_attempt_at <= ?1 "
    "AND (o.lease_until IS NULL OR o.lease_until < ?1) "
    "ORDER BY o.next_attempt_at, o.id LIMIT ?2"
)


def insert_outbox(conn: sqlite3.Connection, step: Step, now: float) -> list[OutboxRow]:
    """Insert a step's outbox items; lease those `step.lease_owner` may deliver at once
    (see `Step`) and return them. Runs inside the step's job."""
    c, owner = step.conversation, step.lease_owner
    queues: dict[tuple[str, str], list[OutboxRow]] = {}
    for o in step.outbox:
        payload = to_json(o.payload)
        cursor = conn.execute(
            OUTBOX_INSERT,
            (o.conversation_id, str(o.target), o.kind, payload, o.epoch, o.correlation_id,
             now, now),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        queues.setdefault((o.conversation_id, str(o.target)), []).append(
            OutboxRow(
                id=cursor.lastrowid, conversation_id=o.conversation_id, tenant=c.tenant,
                target=Target(o.target), kind=o.kind, payload=json.loads(payload),
                epoch=o.epoch, correlation_id=o.correlation_id, created_at=from_ts(now),
                attempts=0, in_flight=False,
            )
        )  # fmt: skip
    if owner is None or step.lease_until is None:
        return []
    leased: list[OutboxRow] = []
    for rows in queues.values():
        # One process owns the file, so no live connection is held elsewhere; only an
        # earlier item of the queue (in backoff, or still being sent) keeps these back.
        head = conn.execute("SELECT is_head FROM outbox WHERE id = ?", (rows[0].id,)).fetchone()
        if head is not None and head[0]:
            leased.extend(rows)
    if leased:
        conn.executemany(
            "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
            [(owner, to_ts(step.lease_until), r.id) for r in leased],
        )
    return leased


class SQLiteOutbox(SQLiteDatabase, OutboxStore, DeadLetterStore):
    """Leasing queue heads, finishing them, and the dead letters."""

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        exclude: set[tuple[str, Target]] | None = None,
    ) -> list[OutboxRow]:
        if limit <= 0:
            return []
        skip = {(conv, Target(target)) for conv, target in exclude or ()}
        now_ts, until = to_ts(now), to_ts(now + timedelta(seconds=lease_seconds))

        def op(conn: sqlite3.Connection) -> list[OutboxRow]:
            # Each excluded queue hides at most one head, so this many candidates
            # always contain `limit` eligible ones when there are that many.
            cursor = conn.execute(CLAIM, (now_ts, limit + len(skip)))
            rows = [outbox_row_from(r) for r in cursor.fetchall()]
            rows = [r for r in rows if (r.conversation_id, r.target) not in skip][:limit]
            if rows:
                conn.executemany(
                    "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    [(owner, until, r.id) for r in rows],
                )
            return rows

        return await self._write(op, "claim")

    async def finish_leased(
        self,
        owner: str,
        *,
        completed: Sequence[int] = (),
        in_flight: Sequence[int] = (),
        released: Sequence[int] = (),
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM outbox WHERE id = ? AND lease_owner = ?",
                [(row_id, owner) for row_id in completed],
            )
            conn.executemany(
                "UPDATE outbox SET in_flight = 1 WHERE id = ? AND lease_owner = ?",
                [(row_id, owner) for row_id in in_flight],
            )
            conn.executemany(
                "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ?",
                [(row_id, owner) for row_id in released],
            )

        await self._write(op, "outbox")

    async def mark_in_flight(self, row_id: int, owner: str) -> None:
        await self._change(
            "UPDATE outbox SET in_flight = 1 WHERE id = ? AND lease_owner = ?",
            (row_id, owner),
            "in_flight",
        )

    async def complete(self, row_id: int, owner: str) -> None:
        await self._change(
            "DELETE FROM outbox WHERE id = ? AND lease_owner = ?", (row_id, owner), "complete"
        )

    async def reschedule(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> None:
        await self._change(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?, in_flight = 0, "
            "attempts = attempts + 1, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (to_ts(next_attempt_at), error, row_id, owner),
            "reschedule",
        )

    async def dead_letter(
        self, row_id: int, owner: str, reason: str, now: datetime
    ) -> DeadLetter | None:
        def op(conn: sqlite3.Connection) -> DeadLetter | None:
            cursor = conn.execute(
                "INSERT INTO dead_letters (outbox_id, conversation_id, target, kind, payload, "
                "epoch, correlation_id, reason, attempts, last_error, created_at, failed_at) "
                "SELECT id, conversation_id, target, kind, payload, epoch, correlation_id, ?, "
                "attempts, last_error, created_at, ? FROM outbox WHERE id = ? AND lease_owner = ?",
                (reason, to_ts(now), row_id, owner),
            )
            if cursor.rowcount == 0:
                return None
            dead_id = cursor.lastrowid
            conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            cursor = conn.execute("SELECT * FROM dead_letters WHERE id = ?", (dead_id,))
            dead = cursor.fetchone()
            assert dead is not None  # inserted just above, in this transaction
            return dead_letter_from(dead)

        return await self._write(op, "dead_letter")

    async def release_leases(self, owner: str | None = None) -> int:
        return await self._change(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner IS NOT NULL AND (?1 IS NULL OR lease_owner = ?1)",
            (owner,),
            "release",
        )

    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        rows = await self._scan("SELECT COUNT(*), MIN(created_at) FROM outbox")
        row = rows[0] if rows else None
        if row is None or not row[0]:
            return 0, 0.0
        return int(row[0]), max(0.0, to_ts(now) - float(row[1]))

    async def outbox_for(self, conversation_id: str) -> list[OutboxRow]:
        rows = await self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox AS o "
            "JOIN conversations AS c ON c.id = o.conversation_id "
            "WHERE o.conversation_id = ? ORDER BY o.id",
            (conversation_id,),
        )
        return [outbox_row_from(r) for r in rows]

    async def next_due(self) -> datetime | None:
        # Only queue heads can become claimable, and a leased head only when its lease
        # runs out; counting the rows behind them would make a worker spin on work it
        # cannot claim.
        return await self._when(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, next_attempt_at))) "
            "FROM outbox WHERE is_head = 1"
        )

    # --- dead letters ---------------------------------------------------------------

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = await self._all("SELECT * FROM dead_letters ORDER BY id LIMIT ?", (limit,))
        return [dead_letter_from(r) for r in rows]

    async def replay_dead_letter(self, dead_id: int, now: datetime) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO outbox (conversation_id, target, kind, payload, epoch, "
                "correlation_id, created_at, attempts, next_attempt_at) "
                "SELECT conversation_id, target, kind, payload, epoch, correlation_id, ?1, 0, ?1 "
                "FROM dead_letters WHERE id = ?2",
                (to_ts(now), dead_id),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
            return True

        return await self._write(op)
