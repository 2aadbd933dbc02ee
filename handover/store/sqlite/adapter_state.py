"""Adapter state, for the SQLite engine (SQL: store/adapter_state_sql.py).

Reads are small lookups by key on the event loop's thread; each write is one statement
as a group-commit job of its own, so it is atomic with respect to every other write.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from handover.sdk.state import StateRecord, StateValue
from handover.store.adapter_state_sql import AdapterStateSQL
from handover.store.contract import AdapterStateStore
from handover.store.sqlite.database import SQLiteDatabase
from handover.store.sqlite.rows import DIALECT

STATE_SQL = AdapterStateSQL(DIALECT)


class SQLiteAdapterState(SQLiteDatabase, AdapterStateStore):
    """Adapter state records."""

    async def state_get(self, namespace: str, key: str, now: datetime) -> StateRecord | None:
        row = await self._one(*STATE_SQL.get(namespace, key, now))
        return STATE_SQL.record_from(row)[1] if row is not None else None

    async def state_put(
        self,
        namespace: str,
        key: str,
        value: StateValue,
        *,
        now: datetime,
        expect_version: int | None = None,
        expires_at: datetime | None = None,
        conversation_id: str | None = None,
    ) -> int | None:
        sql, params = STATE_SQL.put(
            namespace, key, value, now=now, expect_version=expect_version,
            expires_at=expires_at, conversation_id=conversation_id,
        )  # fmt: skip

        def op(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(sql, params).fetchone()
            return int(row[0]) if row is not None else None

        return await self._write(op)

    async def state_delete(
        self, namespace: str, key: str, *, now: datetime, expect_version: int | None = None
    ) -> bool:
        sql, params = STATE_SQL.delete(namespace, key, now=now, expect_version=expect_version)

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql, params).fetchone()
            return row is not None and STATE_SQL.was_live(row[0], now)

        return await self._write(op)

    async def state_scan(
        self, namespace: str, prefix: str, *, now: datetime, limit: int
    ) -> list[tuple[str, StateRecord]]:
        rows = await self._all(*STATE_SQL.scan(namespace, prefix, now=now, limit=limit))
        return [STATE_SQL.record_from(r) for r in rows]

    async def purge_expired_state(self, now: datetime, limit: int) -> int:
        return await self._change(*STATE_SQL.purge_expired(now, limit))
