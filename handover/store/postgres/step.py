"""A step in one round trip: the call of the server-side function `handover_step`.

The function (migration 0005) writes the inbox key, the conversation, the completions,
transcript entries, outbox items with their leases and timers, in that order, and is a
transaction of its own. A step with a survey answer, echo keys or handover events
(rare: the end of a handover, a desk post) writes those in the same transaction, which
then costs its BEGIN and COMMIT as well.

Arrays carry the variable parts, one array per column, so the call is one prepared
statement whatever the step holds.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from handover.model import OutboxRow, Target
from handover.store.contract import Step, VersionConflict
from handover.store.postgres.evaluation import EVALUATION_SQL
from handover.store.postgres.rows import to_json, utc
from handover.store.postgres.sql import INSERT_KEY, INSERT_SURVEY

#: SQLSTATE the function raises for a conversation changed since it was read.
CONFLICT_STATE = "HO409"
STEP_CALL = "SELECT handover_step(" + ", ".join(f"${n}" for n in range(1, 41)) + ")"


class Duplicate(Exception):
    """The step's inbox key was seen before: nothing was (or will be) written."""


async def write_step(conn: Any, step: Step, now: datetime) -> None:
    """Write `step` on `conn`, filling `step.leased`. Raises Duplicate (nothing written),
    VersionConflict, or what asyncpg raises."""
    extras = step.survey is not None or bool(step.echo_keys) or bool(step.handover_events)
    payloads = [to_json(o.payload) for o in step.outbox]
    try:
        if extras:
            async with conn.transaction():
                ids = await conn.fetchval(STEP_CALL, *_arguments(step, payloads, now))
                if ids is None:
                    raise Duplicate
                await _write_extras(conn, step, now)
        else:
            ids = await conn.fetchval(STEP_CALL, *_arguments(step, payloads, now))
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == CONFLICT_STATE:
            raise VersionConflict(str(exc)) from exc
        raise
    if ids is None:
        raise Duplicate
    tenant = step.conversation.tenant
    step.leased = [
        OutboxRow(
            id=row_id, conversation_id=o.conversation_id, tenant=tenant,
            target=Target(o.target), kind=o.kind, payload=json.loads(payload), epoch=o.epoch,
            correlation_id=o.correlation_id, created_at=now, attempts=0, in_flight=False,
        )
        for row_id, o, payload in zip(ids, step.outbox, payloads, strict=True)
        if row_id is not None
    ]  # fmt: skip


def _arguments(step: Step, payloads: list[str], now: datetime) -> list[Any]:
    c = step.conversation
    inbox = step.inbox_key or (None, None)
    t, o, timers = step.transcript, step.outbox, step.timers_set
    return [
        inbox[0], inbox[1], now,
        c.id, c.version, c.tenant, c.channel, c.channel_key, c.language, str(c.state),
        c.epoch, c.handover_no, c.seq, c.agent_name, c.bot_escalations,
        to_json(dict(c.context)), utc(c.created_at) if c.created_at else now,
        utc(c.updated_at) if c.updated_at else now,
        step.completed, step.lease_owner,
        utc(step.lease_until) if step.lease_until is not None else None,
        [e.conversation_id for e in t], [e.seq for e in t], [str(e.party) for e in t],
        [to_json(e.content.to_json()) for e in t], [e.message_id for e in t],
        [e.sender_name for e in t], [utc(e.created_at) if e.created_at else now for e in t],
        [e.handover_no for e in t],
        [x.conversation_id for x in o], [str(x.target) for x in o], [x.kind for x in o],
        payloads, [x.epoch for x in o], [x.correlation_id for x in o],
        step.timers_cancelled, [x.conversation_id for x in timers], [x.name for x in timers],
        [utc(x.due_at) for x in timers], [x.epoch for x in timers],
    ]  # fmt: skip


async def _write_extras(conn: Any, step: Step, now: datetime) -> None:
    if step.survey is not None:
        s = step.survey
        await conn.execute(
            INSERT_SURVEY, s.conversation_id, s.tenant, s.channel, s.handover_no, s.score,
            s.comment, s.outcome, utc(s.answered_at),
        )  # fmt: skip
    if step.echo_keys:
        await conn.executemany(INSERT_KEY, [(src, sid, now) for src, sid in step.echo_keys])
    if step.handover_events:
        await conn.executemany(
            EVALUATION_SQL.insert_handover_event,
            EVALUATION_SQL.event_args(step.handover_events),
        )
