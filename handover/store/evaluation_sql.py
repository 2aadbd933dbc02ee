"""The evaluation and retention SQL of both engines, written once (see dialect.py).

Reads feed the reports (handover/evaluation/); the purges remove personal data in
bounded batches. A purge is a SELECT of the batch's conversation ids followed by the
statements for those ids, all in one transaction that the engine runs: SQLite as one
group-commit job, PostgreSQL with the batch selected FOR UPDATE SKIP LOCKED, so a purge
never waits on (nor blocks for long) a conversation another instance is writing; that
conversation is simply taken by the next call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from handover.model import HandoverEvent
from handover.store.dialect import Dialect, Statement

_INSERT_HANDOVER_EVENT = (
    "INSERT INTO handover_events (conversation_id, tenant, channel, handover_no, event, "
    "reason, outcome, wait_seconds, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CONVERSATION_COUNTS = (
    "SELECT channel, COUNT(*) AS n FROM conversations "
    "WHERE tenant = ? AND created_at >= ? AND created_at < ? GROUP BY channel"
)
_CONVERSATION_IDS = (
    "SELECT id FROM conversations WHERE tenant = ? AND created_at >= ? AND created_at < ? "
    "ORDER BY created_at, id"
)
# Not purged before, or active again since its purge (else the loop would not end).
_BODIES_BATCH = (
    "SELECT id FROM conversations WHERE tenant = ? AND updated_at < ? "
    "AND (bodies_purged_at IS NULL OR bodies_purged_at <= updated_at) "
    "ORDER BY updated_at LIMIT ?"
)
_METADATA_BATCH = (
    "SELECT id FROM conversations WHERE tenant = ? AND updated_at < ? ORDER BY updated_at LIMIT ?"
)
# Tables that refer to a conversation, children only (the row itself goes last).
_CHILD_TABLES = ("transcript", "outbox", "dead_letters", "timers", "survey_answers",
                 "handover_events", "adapter_state")  # fmt: skip


class EvaluationSQL:
    """The evaluation and retention statements in one engine's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._d = dialect
        # Fixed texts are translated once: the insert runs in every step with events.
        self.insert_handover_event = dialect.sql(_INSERT_HANDOVER_EVENT)
        self.conversation_counts = dialect.sql(_CONVERSATION_COUNTS)
        self.conversation_ids = dialect.sql(_CONVERSATION_IDS)

    def period(self, tenant: str, since: datetime, until: datetime) -> list[Any]:
        """Parameters of `conversation_counts` and `conversation_ids`."""
        return [tenant, self._d.time_param(since), self._d.time_param(until)]

    def filtered(
        self,
        table: str,
        time_column: str,
        tenant: str | None,
        since: datetime | None,
        until: datetime | None,
        conversation_id: str | None,
    ) -> Statement:
        """A SELECT on `table` narrowed by the filters given, oldest first."""
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("tenant = ?", tenant),
            (f"{time_column} >= ?", self._d.time_param(since) if since else None),
            (f"{time_column} < ?", self._d.time_param(until) if until else None),
            ("conversation_id = ?", conversation_id),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._d.statement(f"SELECT * FROM {table}{where} ORDER BY {time_column}, id", params)

    def event_args(self, events: Iterable[HandoverEvent]) -> list[tuple[Any, ...]]:
        """Parameters of `insert_handover_event`, one tuple per event."""
        return [
            (e.conversation_id, e.tenant, e.channel, e.handover_no, e.event, e.reason,
             e.outcome, e.wait_seconds, self._d.time_param(e.at))
            for e in events
        ]  # fmt: skip

    def handover_event_from(self, r: Any) -> HandoverEvent:
        """A handover_events row (sqlite3.Row or asyncpg.Record) as a model value."""
        return HandoverEvent(
            conversation_id=r["conversation_id"], tenant=r["tenant"], channel=r["channel"],
            handover_no=r["handover_no"], event=r["event"], at=self._d.time_value(r["at"]),
            reason=r["reason"], outcome=r["outcome"], wait_seconds=r["wait_seconds"],
        )  # fmt: skip

    # --- retention ------------------------------------------------------------------

    def bodies_batch(self, tenant: str, inactive_before: datetime, limit: int) -> Statement:
        """Ids of up to `limit` conversations whose bodies `purge_bodies` removes."""
        return self._batch(_BODIES_BATCH, tenant, inactive_before, limit)

    def purge_bodies(
        self, ids: Sequence[str], inactive_before: datetime, now: datetime
    ) -> list[Statement]:
        """Remove the bodies of the conversations `ids` (see Store.purge_bodies)."""
        d = self._d
        among, id_params = d.among("conversation_id", ids)
        among_rows, _ = d.among("id", ids)
        return [
            d.statement(f"DELETE FROM transcript WHERE {among}", id_params),
            d.statement(f"DELETE FROM dead_letters WHERE {among}", id_params),
            # Its payload is a body. An item this old has outlived the maximum age of
            # every kind but the registrations (a week): with bodies_days shorter than
            # that, retention wins and a registration still retrying goes too.
            d.statement(
                f"DELETE FROM outbox WHERE {among} AND created_at < ?",
                [*id_params, d.time_param(inactive_before)],
            ),
            d.statement(f"UPDATE survey_answers SET comment = NULL WHERE {among}", id_params),
            # What adapters keep about the conversation (a desk thread, a send log).
            d.statement(f"DELETE FROM adapter_state WHERE {among}", id_params),
            # version + 1: a step computed before the purge conflicts instead of writing
            # the context back. updated_at stays: metadata retention counts from the last
            # activity.
            d.statement(
                "UPDATE conversations SET channel_key = 'purged:' || id, context = '{}', "
                "agent_name = NULL, bodies_purged_at = ?, version = version + 1 "
                f"WHERE {among_rows}",
                [d.time_param(now), *id_params],
            ),
        ]

    def metadata_batch(self, tenant: str, inactive_before: datetime, limit: int) -> Statement:
        """Ids of up to `limit` conversations that `purge_metadata` deletes."""
        return self._batch(_METADATA_BATCH, tenant, inactive_before, limit)

    def purge_metadata(self, ids: Sequence[str]) -> list[Statement]:
        """Delete the conversations `ids` and everything that refers to them."""
        d = self._d
        among, id_params = d.among("conversation_id", ids)
        among_rows, _ = d.among("id", ids)
        children = [d.statement(f"DELETE FROM {t} WHERE {among}", id_params) for t in _CHILD_TABLES]
        return [*children, d.statement(f"DELETE FROM conversations WHERE {among_rows}", id_params)]

    def _batch(self, text: str, tenant: str, inactive_before: datetime, limit: int) -> Statement:
        params = [tenant, self._d.time_param(inactive_before), limit]
        return self._d.statement(text + self._d.lock_batch, params)
