"""Evaluation reads and retention, for the PostgreSQL engine (SQL:
store/evaluation_sql.py).

Each purge call is one transaction over a bounded batch of conversations, selected
FOR UPDATE SKIP LOCKED: a purge never waits on (nor blocks for long) a conversation
another instance is writing; that conversation is simply taken by the next call.
"""

from __future__ import annotations

from datetime import datetime

from handover.model import HandoverEvent, SurveyAnswer
from handover.store.contract import EvaluationStore, RetentionStore
from handover.store.evaluation_sql import EvaluationSQL
from handover.store.postgres.database import PostgresDatabase
from handover.store.postgres.pool import count
from handover.store.postgres.rows import DIALECT, survey_from, utc

EVALUATION_SQL = EvaluationSQL(DIALECT)


class PostgresEvaluation(PostgresDatabase, EvaluationStore, RetentionStore):
    """Survey answers, handover events and counts; erasure and purges."""

    async def survey_answers(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[SurveyAnswer]:
        sql, params = EVALUATION_SQL.filtered(
            "survey_answers", "answered_at", tenant, since, until, conversation_id
        )
        return [survey_from(r) for r in await self._db.fetch(sql, *params)]

    async def handover_events(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[HandoverEvent]:
        sql, params = EVALUATION_SQL.filtered(
            "handover_events", "at", tenant, since, until, conversation_id
        )
        return [EVALUATION_SQL.handover_event_from(r) for r in await self._db.fetch(sql, *params)]

    async def conversation_counts(
        self, tenant: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        params = EVALUATION_SQL.period(tenant, since, until)
        rows = await self._db.fetch(EVALUATION_SQL.conversation_counts, *params)
        return {r["channel"]: int(r["n"]) for r in rows}

    async def conversation_ids(self, tenant: str, since: datetime, until: datetime) -> list[str]:
        params = EVALUATION_SQL.period(tenant, since, until)
        rows = await self._db.fetch(EVALUATION_SQL.conversation_ids, *params)
        return [r["id"] for r in rows]

    async def purge_bodies(
        self, tenant: str, inactive_before: datetime, now: datetime, limit: int
    ) -> int:
        async with self._db.connection("other") as conn, conn.transaction():
            sql, params = EVALUATION_SQL.bodies_batch(tenant, inactive_before, limit)
            ids = [r["id"] for r in await conn.fetch(sql, *params)]
            if ids:
                for sql, params in EVALUATION_SQL.purge_bodies(ids, inactive_before, now):
                    await conn.execute(sql, *params)
            return len(ids)

    async def purge_metadata(self, tenant: str, inactive_before: datetime, limit: int) -> int:
        async with self._db.connection("other") as conn, conn.transaction():
            sql, params = EVALUATION_SQL.metadata_batch(tenant, inactive_before, limit)
            ids = [r["id"] for r in await conn.fetch(sql, *params)]
            if ids:
                for sql, params in EVALUATION_SQL.purge_metadata(ids):
                    await conn.execute(sql, *params)
            return len(ids)

    async def erase_conversation(self, conversation_id: str) -> bool:
        now = utc(self._clock.now())
        async with self._db.connection("other") as conn, conn.transaction():
            # version + 1 so a step computed before the erasure conflicts instead of
            # writing the old context back.
            status = await conn.execute(
                "UPDATE conversations SET channel_key = 'erased:' || id, context = '{}', "
                "agent_name = NULL, updated_at = $1, version = version + 1 WHERE id = $2",
                now, conversation_id,
            )  # fmt: skip
            if count(status) == 0:
                return False
            for table in ("transcript", "outbox", "timers", "dead_letters", "adapter_state"):
                sql = f"DELETE FROM {table} WHERE conversation_id = $1"
                await conn.execute(sql, conversation_id)
            # The score and outcome stay for statistics; the free text may identify.
            await conn.execute(
                "UPDATE survey_answers SET comment = NULL WHERE conversation_id = $1",
                conversation_id,
            )
            return True
