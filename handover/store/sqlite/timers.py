"""Timer reads, for the SQLite engine (timers are written by steps)."""

from __future__ import annotations

from datetime import datetime

from handover.model import Timer
from handover.store.contract import TimerStore
from handover.store.sqlite.database import SQLiteDatabase
from handover.store.sqlite.rows import timer_from, to_ts


class SQLiteTimers(SQLiteDatabase, TimerStore):
    """Due timers and the next one."""

    async def due_timers(self, now: datetime, limit: int = 100) -> list[Timer]:
        rows = await self._all(
            "SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, conversation_id, name LIMIT ?",
            (to_ts(now), limit),
        )
        return [timer_from(r) for r in rows]

    async def next_timer(self) -> datetime | None:
        return await self._when("SELECT MIN(due_at) FROM timers")

    async def timer(self, conversation_id: str, name: str) -> Timer | None:
        row = await self._one(
            "SELECT * FROM timers WHERE conversation_id = ? AND name = ?", (conversation_id, name)
        )
        return timer_from(row) if row is not None else None
