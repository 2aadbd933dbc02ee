"""The SQLite engine's queries for evaluation and retention (see store/base.py).

Reads run on the reader connection (the `SQLiteStore` passes them through); writes are
functions of a `sqlite3.Connection` that the store runs as one group-commit job each.
A purge job handles a bounded batch of conversations, so the writer is never held for
long and the daemon's own steps interleave with a running purge.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from handover.model import HandoverEvent
from handover.store.sqlite.rows import from_ts, to_ts

INSERT_HANDOVER_EVENT = (
    "INSERT INTO handover_events (conversation_id, tenant, channel, handover_no, event, "
    "reason, outcome, wait_seconds, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CONVERSATION_COUNTS = (
    "SELECT channel, COUNT(*) AS n FROM conversations "
    "WHERE tenant = ? AND created_at >= ? AND created_at < ? GROUP BY channel"
)
CONVERSATION_IDS = (
    "SELECT id FROM conversations WHERE tenant = ? AND created_at >= ? AND created_at < ? "
    "ORDER BY created_at, id"
)
# Tables that refer to a conversation, children only (the row itself goes last).
_CHILD_TABLES = ("transcript", "outbox", "dead_letters", "timers", "survey_answers",
                 "handover_events")  # fmt: skip


def filtered(
    table: str,
    time_column: str,
    tenant: str | None,
    since: datetime | None,
    until: datetime | None,
    conversation_id: str | None,
) -> tuple[str, list[Any]]:
    """A SELECT on `table` narrowed by the filters given, oldest first."""
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("tenant = ?", tenant),
        (f"{time_column} >= ?", to_ts(since) if since else None),
        (f"{time_column} < ?", to_ts(until) if until else None),
        ("conversation_id = ?", conversation_id),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT * FROM {table}{where} ORDER BY {time_column}, id", params


def event_args(events: Iterable[HandoverEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.conversation_id, e.tenant, e.channel, e.handover_no, e.event, e.reason, e.outcome,
         e.wait_seconds, to_ts(e.at))
        for e in events
    ]  # fmt: skip


def handover_event_from(r: sqlite3.Row) -> HandoverEvent:
    return HandoverEvent(
        conversation_id=r["conversation_id"], tenant=r["tenant"], channel=r["channel"],
        handover_no=r["handover_no"], event=r["event"], at=from_ts(r["at"]),
        reason=r["reason"], outcome=r["outcome"], wait_seconds=r["wait_seconds"],
    )  # fmt: skip


def _in(ids: Sequence[str]) -> str:
    return "(" + ", ".join("?" * len(ids)) + ")"


def purge_bodies(
    conn: sqlite3.Connection, tenant: str, inactive_before: float, now: float, limit: int
) -> int:
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM conversations WHERE tenant = ? AND updated_at < ? "
            "AND (bodies_purged_at IS NULL OR bodies_purged_at <= updated_at) "
            "ORDER BY updated_at LIMIT ?",
            (tenant, inactive_before, limit),
        )
    ]
    if not ids:
        return 0
    where = f"conversation_id IN {_in(ids)}"
    conn.execute(f"DELETE FROM transcript WHERE {where}", ids)
    conn.execute(f"DELETE FROM dead_letters WHERE {where}", ids)
    # An item this old has outlived every kind's maximum age; its payload is a body.
    conn.execute(f"DELETE FROM outbox WHERE {where} AND created_at < ?", (*ids, inactive_before))
    conn.execute(f"UPDATE survey_answers SET comment = NULL WHERE {where}", ids)
    # version + 1: a step computed before the purge conflicts instead of writing the
    # context back. updated_at stays: metadata retention counts from the last activity.
    conn.execute(
        "UPDATE conversations SET channel_key = 'purged:' || id, context = '{}', "
        f"agent_name = NULL, bodies_purged_at = ?, version = version + 1 WHERE id IN {_in(ids)}",
        (now, *ids),
    )
    return len(ids)


def purge_metadata(
    conn: sqlite3.Connection, tenant: str, inactive_before: float, limit: int
) -> int:
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM conversations WHERE tenant = ? AND updated_at < ? "
            "ORDER BY updated_at LIMIT ?",
            (tenant, inactive_before, limit),
        )
    ]
    if not ids:
        return 0
    for table in _CHILD_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE conversation_id IN {_in(ids)}", ids)
    conn.execute(f"DELETE FROM conversations WHERE id IN {_in(ids)}", ids)
    return len(ids)
