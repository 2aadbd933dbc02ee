"""Evaluation reads and retention, for the SQLite engine (SQL: store/evaluation_sql.py).

Reads run on the reader's thread (they may scan); each purge call is one group-commit
job, a bounded batch of conversations, so the writer is never held for long and the
daemon's own steps interleave with a running purge.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from handover.model import HandoverEvent, SurveyAnswer
from handover.store.contract import EvaluationStore, RetentionStore
from handover.store.evaluation_sql import EvaluationSQL
from handover.store.sqlite.database import SQLiteDatabase
from handover.store.sqlite.rows import DIALECT, survey_from, to_ts

EVALUATION_SQL = EvaluationSQL(DIALECT)


class SQLiteEvaluation(SQLiteDatabase, EvaluationStore, RetentionStore):
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
        return [survey_from(r) for r in await self._scan(sql, params)]

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
        return [EVALUATION_SQL.handover_event_from(r) for r in await self._scan(sql, params)]

    async def conversation_counts(
        self, tenant: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        params = EVALUATION_SQL.period(tenant, since, until)
        rows = await self._scan(EVALUATION_SQL.conversation_counts, params)
        return {r["channel"]: int(r["n"]) for r in rows}

    async def conversation_ids(self, tenant: str, since: datetime, until: datetime) -> list[str]:
        params = EVALUATION_SQL.period(tenant, since, until)
        rows = await self._scan(EVALUATION_SQL.conversation_ids, params)
        return [r["id"] for r in rows]

    async def purge_bodies(
        self, tenant: str, inactive_before: datetime, now: datetime, limit: int
    ) -> int:
        def op(conn: sqlite3.Connection) -> int:
            sql, params = EVALUATION_SQL.bodies_batch(tenant, inactive_before, limit)
            ids = [r[0] for r in conn.execute(sql, params)]
            if ids:
                for sql, params in EVALUATION_SQL.purge_bodies(ids, inactive_before, now):
                    conn.execute(sql, params)
            return len(ids)

        return await self._write(op)

    async def purge_metadata(self, tenant: str, inactive_before: datetime, limit: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            sql, params = EVALUATION_SQL.metadata_batch(tenant, inactive_before, limit)
            ids = [r[0] for r in conn.execute(sql, params)]
            if ids:
                for sql, params in EVALUATION_SQL.purge_metadata(ids):
                    conn.execute(sql, params)
            return len(ids)

        return await self._write(op)

    async def erase_conversation(self, conversation_id: str) -> bool:
        now = to_ts(self._clock.now())

        def op(conn: sqlite3.Connection) -> bool:
            # version + 1 so a step computed before the erasure conflicts instead of
            # writing the old context back.
            cursor = conn.execute(
                "UPDATE conversations SET channel_key = 'erased:' || id, context = '{}', "
                "agent_name = NULL, updated_at = ?, version = version + 1 WHERE id = ?",
                (now, conversation_id),
            )
            if cursor.rowcount == 0:
                return False
            for table in ("transcript", "outbox", "timers", "dead_letters", "adapter_state"):
                conn.execute(f"DELETE FROM {table} WHERE conversation_id = ?", (conversation_id,))
            # The score and outcome stay for statistics; the free text may identify.
            conn.execute(
                "UPDATE survey_answers SET comment = NULL WHERE conversation_id = ?",
                (conversation_id,),
            )
            return True

        return await self._write(op)
