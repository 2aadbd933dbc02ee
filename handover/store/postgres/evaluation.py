"""The PostgreSQL engine's queries for evaluation and retention (see store/base.py).

The same rules as sqlite/evaluation.py: a purge call handles a bounded batch of
conversations in one transaction. The batch is selected FOR UPDATE SKIP LOCKED, so a
purge never waits on (nor blocks for long) a conversation another instance is writing;
that conversation is simply taken by the next call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from handover.model import HandoverEvent
from handover.store.postgres.rows import Record, utc

INSERT_HANDOVER_EVENT = (
    "INSERT INTO handover_events (conversation_id, tenant, channel, handover_no, event, "
    "reason, outcome, wait_seconds, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
CONVERSATION_COUNTS = (
    "SELECT channel, COUNT(*) AS n FROM conversations "
    "WHERE tenant = $1 AND created_at >= $2 AND created_at < $3 GROUP BY channel"
)
CONVERSATION_IDS = (
    "SELECT id FROM conversations WHERE tenant = $1 AND created_at >= $2 AND created_at < $3 "
    "ORDER BY created_at, id"
)
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
        ("tenant = ${}", tenant),
        (f"{time_column} >= ${{}}", utc(since) if since else None),
        (f"{time_column} < ${{}}", utc(until) if until else None),
        ("conversation_id = ${}", conversation_id),
    ):
        if value is not None:
            params.append(value)
            clauses.append(clause.format(len(params)))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT * FROM {table}{where} ORDER BY {time_column}, id", params


def event_args(events: Iterable[HandoverEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.conversation_id, e.tenant, e.channel, e.handover_no, e.event, e.reason, e.outcome,
         e.wait_seconds, utc(e.at))
        for e in events
    ]  # fmt: skip


def handover_event_from(r: Record) -> HandoverEvent:
    return HandoverEvent(
        conversation_id=r["conversation_id"], tenant=r["tenant"], channel=r["channel"],
        handover_no=r["handover_no"], event=r["event"], at=r["at"], reason=r["reason"],
        outcome=r["outcome"], wait_seconds=r["wait_seconds"],
    )  # fmt: skip


async def purge_bodies(
    conn: Any, tenant: str, inactive_before: datetime, now: datetime, limit: int
) -> int:
    """Run inside a transaction on `conn`."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM conversations WHERE tenant = $1 AND updated_at < $2 "
            "AND (bodies_purged_at IS NULL OR bodies_purged_at <= updated_at) "
            "ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            tenant, utc(inactive_before), limit,
        )
    ]  # fmt: skip
    if not ids:
        return 0
    await conn.execute("DELETE FROM transcript WHERE conversation_id = ANY($1::text[])", ids)
    await conn.execute("DELETE FROM dead_letters WHERE conversation_id = ANY($1::text[])", ids)
    # An item this old has outlived every kind's maximum age; its payload is a body.
    await conn.execute(
        "DELETE FROM outbox WHERE conversation_id = ANY($1::text[]) AND created_at < $2",
        ids, utc(inactive_before),
    )  # fmt: skip
    await conn.execute(
        "UPDATE survey_answers SET comment = NULL WHERE conversation_id = ANY($1::text[])", ids
    )
    # version + 1: a step computed before the purge conflicts instead of writing the
    # context back. updated_at stays: metadata retention counts from the last activity.
    await conn.execute(
        "UPDATE conversations SET channel_key = 'purged:' || id, context = '{}', "
        "agent_name = NULL, bodies_purged_at = $1, version = version + 1 "
        "WHERE id = ANY($2::text[])",
        utc(now), ids,
    )  # fmt: skip
    return len(ids)


async def purge_metadata(conn: Any, tenant: str, inactive_before: datetime, limit: int) -> int:
    """Run inside a transaction on `conn`."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM conversations WHERE tenant = $1 AND updated_at < $2 "
            "ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            tenant, utc(inactive_before), limit,
        )
    ]  # fmt: skip
    if not ids:
        return 0
    for table in _CHILD_TABLES:
        await conn.execute(f"DELETE FROM {table} WHERE conversation_id = ANY($1::text[])", ids)
    await conn.execute("DELETE FROM conversations WHERE id = ANY($1::text[])", ids)
    return len(ids)
