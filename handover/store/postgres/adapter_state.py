"""Adapter state, for the PostgreSQL engine (SQL: store/adapter_state_sql.py).

Each write is one statement in autocommit: the upsert's conditional DO UPDATE and the
UPDATE's WHERE are evaluated on the row's latest version after any concurrent writer
committed, so of two instances expecting the same version exactly one wins.
"""

from __future__ import annotations

from datetime import datetime

from handover.sdk.state import StateRecord, StateValue
from handover.store.adapter_state_sql import AdapterStateSQL
from handover.store.contract import AdapterStateStore
from handover.store.postgres.database import PostgresDatabase
from handover.store.postgres.rows import DIALECT

STATE_SQL = AdapterStateSQL(DIALECT)


class PostgresAdapterState(PostgresDatabase, AdapterStateStore):
    """Adapter state records."""

    async def state_get(self, namespace: str, key: str, now: datetime) -> StateRecord | None:
        sql, params = STATE_SQL.get(namespace, key, now)
        row = await self._db.fetchrow(sql, *params)
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
        version = await self._db.fetchval(sql, *params, write="other")
        return int(version) if version is not None else None

    async def state_delete(
        self, namespace: str, key: str, *, now: datetime, expect_version: int | None = None
    ) -> bool:
        sql, params = STATE_SQL.delete(namespace, key, now=now, expect_version=expect_version)
        row = await self._db.fetchrow(sql, *params, write="other")
        return row is not None and STATE_SQL.was_live(row["expires_at"], now)

    async def state_scan(
        self, namespace: str, prefix: str, *, now: datetime, limit: int
    ) -> list[tuple[str, StateRecord]]:
        sql, params = STATE_SQL.scan(namespace, prefix, now=now, limit=limit)
        return [STATE_SQL.record_from(r) for r in await self._db.fetch(sql, *params)]

    async def purge_expired_state(self, now: datetime, limit: int) -> int:
        sql, params = STATE_SQL.purge_expired(now, limit)
        return await self._db.execute(sql, *params)
