"""Conversations, steps, the inbox and the transcript, for the PostgreSQL engine.

A step is one transaction. Its conversation row is written first, so the row lock
orders concurrent steps of one conversation (the loser gets VersionConflict) and the
outbox ids of one queue commit in id order.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from handover import metrics
from handover.model import Conversation, OutboxRow, Target
from handover.model import TranscriptEntry as Entry
from handover.store.contract import (
    CommitResult,
    ConversationStore,
    InboxStore,
    Step,
    StoreError,
    TranscriptStore,
    VersionConflict,
)
from handover.store.postgres.database import PostgresDatabase, notify
from handover.store.postgres.evaluation import EVALUATION_SQL
from handover.store.postgres.pool import count
from handover.store.postgres.rows import conversation_from, entry_from, to_json, utc
from handover.store.postgres.sql import (
    BY_IDENTITY,
    CONVERSATION_COLUMNS,
    DELETE_COMPLETED,
    INSERT_CONVERSATION,
    INSERT_KEY,
    INSERT_OUTBOX_MANY,
    INSERT_SURVEY,
    INSERT_TRANSCRIPT,
    LEASE_NEW,
    SET_TIMER,
    UPDATE_CONVERSATION,
)


class _Duplicate(Exception):
    """The step's inbox key was seen before: undo the transaction."""


class PostgresConversations(PostgresDatabase, ConversationStore, TranscriptStore, InboxStore):
    """Conversation rows, the atomic step, dedup keys and transcript reads."""

    async def resolve_conversation(self, candidate: Conversation) -> Conversation:
        identity = (candidate.tenant, candidate.channel, candidate.channel_key)
        async with self._db.connection() as conn:
            row = await conn.fetchrow(BY_IDENTITY, *identity)
            if row is None:
                # Autocommit: a concurrent creator's insert wins, ours does nothing, and
                # the read that follows sees the winner (READ COMMITTED).
                sql = INSERT_CONVERSATION + " ON CONFLICT DO NOTHING"
                metrics.STORE_TRANSACTIONS.labels("postgres", "conversation").inc()
                await self._insert_conversation(conn, candidate, sql)
                row = await conn.fetchrow(BY_IDENTITY, *identity)
        if row is None:
            raise StoreError(f"conversation id {candidate.id} is taken by another identity")
        return conversation_from(row)

    async def find_conversation(
        self, tenant: str, channel: str, channel_key: str
    ) -> Conversation | None:
        row = await self._db.fetchrow(BY_IDENTITY, tenant, channel, channel_key)
        return conversation_from(row) if row is not None else None

    async def count_conversations(self) -> int:
        return int(await self._db.fetchval("SELECT COUNT(*) FROM conversations") or 0)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._db.fetchrow(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1", conversation_id
        )
        return conversation_from(row) if row is not None else None

    async def _insert_conversation(self, conn: Any, c: Conversation, sql: str) -> None:
        now = utc(self._clock.now())
        await conn.execute(
            sql, c.id, c.tenant, c.channel, c.channel_key, c.language, str(c.state), c.epoch,
            c.handover_no, c.seq, c.agent_name, c.bot_escalations, to_json(dict(c.context)),
            utc(c.created_at) if c.created_at else now, utc(c.updated_at) if c.updated_at else now,
        )  # fmt: skip

    async def commit(self, step: Step) -> CommitResult:
        async with self._db.connection("step") as conn:
            try:
                async with conn.transaction():
                    await self._apply_step(conn, step)
            except _Duplicate:
                return CommitResult.DUPLICATE
        return CommitResult.APPLIED

    async def _apply_step(self, conn: Any, step: Step) -> None:
        now = utc(self._clock.now())
        # A concurrent step with the same key waits here for the first to finish.
        if step.inbox_key is not None and not count(
            await conn.execute(INSERT_KEY, *step.inbox_key, now)
        ):
            raise _Duplicate
        c = step.conversation
        if c.version == 0:
            try:
                await self._insert_conversation(conn, c, INSERT_CONVERSATION)
            except asyncpg.UniqueViolationError as exc:
                # The caller believed it was new; someone stored it meanwhile.
                raise VersionConflict(f"conversation {c.id} already exists") from exc
        else:
            # Identity is never rewritten here, so a step computed before an erasure
            # cannot restore the erased key. This row lock orders the rest of the step.
            status = await conn.execute(
                UPDATE_CONVERSATION, c.language, str(c.state), c.epoch, c.handover_no, c.seq,
                c.agent_name, c.bot_escalations, to_json(dict(c.context)), now, c.id, c.version,
            )  # fmt: skip
            if count(status) == 0:
                raise VersionConflict(f"conversation {c.id} changed since version {c.version}")
        if step.transcript:
            entries = [_entry_args(e, now) for e in step.transcript]
            await conn.executemany(INSERT_TRANSCRIPT, entries)
        if step.completed and step.lease_owner is not None:
            # Before the new items: a queue whose head this removes gets its new head now.
            await conn.execute(DELETE_COMPLETED, step.completed, step.lease_owner)
        step.leased = []
        if step.outbox:
            step.leased = await self._insert_outbox(conn, step, now)
            if len(step.leased) < len(step.outbox):
                await notify(conn, "outbox")  # some are for any instance to claim
        # Cancel before set: a step that restarts a timer may name it in both lists.
        if step.timers_cancelled:
            await conn.execute(
                "DELETE FROM timers WHERE conversation_id = $1 AND name = ANY($2::text[])",
                c.id, step.timers_cancelled,
            )  # fmt: skip
        if step.timers_set:
            timers = [(t.conversation_id, t.name, utc(t.due_at), t.epoch) for t in step.timers_set]
            await conn.executemany(SET_TIMER, timers)
            await notify(conn, "timers")
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

    async def _insert_outbox(self, conn: Any, step: Step, now: datetime) -> list[OutboxRow]:
        """Insert the step's outbox items; lease and return those its owner may deliver
        at once (see `Step`)."""
        items = step.outbox
        payloads = [to_json(o.payload) for o in items]
        inserted = await conn.fetch(
            INSERT_OUTBOX_MANY, [o.conversation_id for o in items],
            [str(o.target) for o in items], [o.kind for o in items], payloads,
            [o.epoch for o in items], [o.correlation_id for o in items], now,
        )  # fmt: skip
        ids = sorted(r["id"] for r in inserted)
        if step.lease_owner is None or step.lease_until is None:
            return []
        leased = {
            r["id"] for r in await conn.fetch(
                LEASE_NEW, ids, step.lease_owner, utc(step.lease_until), now)
        }  # fmt: skip
        tenant = step.conversation.tenant
        return [
            OutboxRow(
                id=row_id, conversation_id=o.conversation_id, tenant=tenant,
                target=Target(o.target), kind=o.kind, payload=json.loads(payload),
                epoch=o.epoch, correlation_id=o.correlation_id, created_at=now, attempts=0,
                in_flight=False,
            )
            for row_id, o, payload in zip(ids, items, payloads, strict=True)
            if row_id in leased
        ]  # fmt: skip

    async def seen(self, source: str, source_id: str) -> bool:
        row = await self._db.fetchrow(
            "SELECT 1 FROM inbox WHERE source = $1 AND source_id = $2", source, source_id
        )
        return row is not None

    async def record_echo(self, source: str, source_id: str) -> None:
        await self._db.execute(INSERT_KEY, source, source_id, utc(self._clock.now()), write="echo")

    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[Entry]:
        rows = await self._db.fetch(
            "SELECT * FROM transcript WHERE conversation_id = $1 AND seq > $2 AND seq > 0 "
            "ORDER BY seq LIMIT $3",
            conversation_id, after_seq, limit,
        )  # fmt: skip
        return [entry_from(r) for r in rows]

    async def transcript_tail(self, conversation_id: str, limit: int) -> list[Entry]:
        rows = await self._db.fetch(
            "SELECT * FROM transcript WHERE conversation_id = $1 AND seq > 0 "
            "ORDER BY seq DESC LIMIT $2",
            conversation_id, limit,
        )  # fmt: skip
        return [entry_from(r) for r in reversed(rows)]

    async def desk_notes(self, conversation_id: str) -> list[Entry]:
        rows = await self._db.fetch(
            "SELECT * FROM transcript WHERE conversation_id = $1 AND seq = 0 ORDER BY id",
            conversation_id,
        )
        return [entry_from(r) for r in rows]

    async def purge_inbox(self, older_than: datetime) -> int:
        return await self._db.execute("DELETE FROM inbox WHERE received_at < $1", utc(older_than))


def _entry_args(e: Entry, now: datetime) -> tuple[Any, ...]:
    return (
        e.conversation_id, e.seq, str(e.party), to_json(e.content.to_json()), e.message_id,
        e.sender_name, utc(e.created_at) if e.created_at else now, e.handover_no,
    )  # fmt: skip
