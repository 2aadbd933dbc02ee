"""Timer reads, for the PostgreSQL engine (timers are written by steps)."""

from __future__ import annotations

from datetime import datetime

from handover.model import Timer
from handover.store.contract import TimerStore
from handover.store.postgres.database import PostgresDatabase
from handover.store.postgres.rows import timer_from, utc


class PostgresTimers(PostgresDatabase, TimerStore):
    """Due timers and the next one."""

    async def due_timers(self, now: datetime, limit: int = 100) -> list[Timer]:
        rows = await self._db.fetch(
            "SELECT * FROM timers WHERE due_at <= $1 "
            "ORDER BY due_at, conversation_id, name LIMIT $2",
            utc(now), limit,
        )  # fmt: skip
        return [timer_from(r) for r in rows]

    async def next_timer(self) -> datetime | None:
        value: datetime | None = await self._db.fetchval("SELECT MIN(due_at) FROM timers")
        return value

    async def timer(self, conversation_id: str, name: str) -> Timer | None:
        row = await self._db.fetchrow(
            "SELECT * FROM timers WHERE conversation_id = $1 AND name = $2", conversation_id, name
        )
        return timer_from(row) if row is not None else None
