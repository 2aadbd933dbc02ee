"""The outbox, connection leases and dead letters, for the PostgreSQL engine.

Several instances claim from one outbox: `CLAIM` (sql.py) leases queue heads with
``FOR UPDATE SKIP LOCKED``, so they never get the same row nor two rows of one queue,
and never wait on each other. A connection lease routes a conversation's citizen-bound
items to the instance holding the citizen's socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from handover import metrics
from handover.model import DeadLetter, OutboxRow, Target
from handover.store.contract import ConnectionLeases, DeadLetterStore, OutboxStore
from handover.store.postgres.database import PostgresDatabase, notify
from handover.store.postgres.pool import count
from handover.store.postgres.rows import dead_letter_from, outbox_row_from, utc
from handover.store.postgres.sql import (
    CITIZEN_ITEMS_DUE_NOW,
    CLAIM,
    DEAD_LETTER,
    FINISH_LEASED,
    HOLD_CONNECTIONS,
    NEXT_DUE,
    OUTBOX_COLUMNS,
    REPLAY,
    TAKE_OVER_CITIZEN_ITEMS,
)


class PostgresOutbox(PostgresDatabase, OutboxStore, ConnectionLeases, DeadLetterStore):
    """Leasing queue heads, finishing them, connection leases and the dead letters."""

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
        skip = sorted((conv, str(Target(target))) for conv, target in exclude or ())
        now = utc(now)
        rows = await self._db.fetch(
            CLAIM, now, now + timedelta(seconds=lease_seconds), limit, owner,
            [conv for conv, _ in skip], [target for _, target in skip], write="claim",
        )  # fmt: skip
        # A head still naming another owner was leased there and its lease ran out (the
        # owner died or stalled): counted, as a sign of instances contending.
        stolen = sum(1 for r in rows if r["previous_owner"] not in (None, owner))
        if stolen:
            metrics.LEASE_STEALS.labels("expired").inc(stolen)
        # UPDATE ... RETURNING has no order; hand rows out in the order they were due.
        rows.sort(key=lambda r: (r["next_attempt_at"], r["id"]))
        return [outbox_row_from(r) for r in rows]

    async def finish_leased(
        self,
        owner: str,
        *,
        completed: Sequence[int] = (),
        in_flight: Sequence[int] = (),
        released: Sequence[int] = (),
    ) -> None:
        await self._db.execute(
            FINISH_LEASED, list(completed), list(in_flight), list(released), owner,
            write="outbox",
        )  # fmt: skip

    async def mark_in_flight(self, row_id: int, owner: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET in_flight = true WHERE id = $1 AND lease_owner = $2", row_id, owner,
            write="in_flight",
        )

    async def complete(self, row_id: int, owner: str) -> None:
        await self._db.execute(
            "DELETE FROM outbox WHERE id = $1 AND lease_owner = $2", row_id, owner,
            write="complete",
        )

    async def reschedule(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> None:
        await self._db.execute(
            "UPDATE outbox SET next_attempt_at = $1, last_error = $2, in_flight = false, "
            "attempts = attempts + 1, lease_owner = NULL, lease_until = NULL "
            "WHERE id = $3 AND lease_owner = $4",
            utc(next_attempt_at), error, row_id, owner, write="reschedule",
        )  # fmt: skip

    async def dead_letter(
        self, row_id: int, owner: str, reason: str, now: datetime
    ) -> DeadLetter | None:
        row = await self._db.fetchrow(
            DEAD_LETTER, row_id, owner, reason, utc(now), write="dead_letter"
        )
        return dead_letter_from(row) if row is not None else None

    async def release_leases(self, owner: str | None = None) -> int:
        return await self._db.execute(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner IS NOT NULL AND ($1::text IS NULL OR lease_owner = $1)",
            owner, write="release",
        )

    async def hold_connections(
        self, owner: str, conversation_ids: Sequence[str], until: datetime
    ) -> None:
        if not conversation_ids:
            return
        ids = list(conversation_ids)
        async with self._db.connection("connections") as conn, conn.transaction():
            await conn.execute(HOLD_CONNECTIONS, ids, owner, utc(until))
            taken = count(await conn.execute(TAKE_OVER_CITIZEN_ITEMS, ids, owner))
            if taken:
                metrics.LEASE_STEALS.labels("citizen_takeover").inc(taken)
            await conn.execute(CITIZEN_ITEMS_DUE_NOW, ids, utc(self._clock.now()))

    async def renew_connections(self, owner: str, until: datetime) -> int:
        return await self._db.execute(
            "UPDATE connection_leases SET until = $2 WHERE owner = $1", owner, utc(until),
            write="connections",
        )

    async def drop_connections(
        self, owner: str, conversation_ids: Sequence[str] | None = None
    ) -> None:
        await self._db.execute(
            "DELETE FROM connection_leases WHERE owner = $1 "
            "AND ($2::text[] IS NULL OR conversation_id = ANY($2::text[]))",
            owner, None if conversation_ids is None else list(conversation_ids),
            write="connections",
        )  # fmt: skip

    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        row = await self._db.fetchrow("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox")
        if row is None or not row["n"]:
            return 0, 0.0
        return int(row["n"]), max(0.0, (utc(now) - row["oldest"]).total_seconds())

    async def outbox_for(self, conversation_id: str) -> list[OutboxRow]:
        rows = await self._db.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox AS o "
            "JOIN conversations AS c ON c.id = o.conversation_id "
            "WHERE o.conversation_id = $1 ORDER BY o.id",
            conversation_id,
        )
        return [outbox_row_from(r) for r in rows]

    async def next_due(self) -> datetime | None:
        value: datetime | None = await self._db.fetchval(NEXT_DUE)
        return value

    # --- dead letters ---------------------------------------------------------------

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = await self._db.fetch("SELECT * FROM dead_letters ORDER BY id LIMIT $1", limit)
        return [dead_letter_from(r) for r in rows]

    async def replay_dead_letter(self, dead_id: int, now: datetime) -> bool:
        async with self._db.connection("other") as conn, conn.transaction():
            # Lock the conversation first, as a step does, so ids of the queue commit
            # in order (see the module docstring).
            await conn.execute(
                "SELECT 1 FROM conversations WHERE id = "
                "(SELECT conversation_id FROM dead_letters WHERE id = $1) FOR UPDATE",
                dead_id,
            )
            if count(await conn.execute(REPLAY, dead_id, utc(now))) == 0:
                return False
            await notify(conn, "outbox")
            return True
