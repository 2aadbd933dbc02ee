"""Conversations, steps, the inbox and the transcript, for the PostgreSQL engine.

A step is one transaction, and usually one round trip: the server-side function of
step.py. Its conversation row is written first, so the row lock orders concurrent
steps of one conversation (the loser gets VersionConflict) and the outbox ids of one
queue commit in id order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handover import metrics
from handover.model import Conversation
from handover.model import TranscriptEntry as Entry
from handover.store.contract import (
    CommitResult,
    ConversationStore,
    InboxStore,
    Step,
    StoreError,
    TranscriptStore,
)
from handover.store.postgres.database import PostgresDatabase
from handover.store.postgres.rows import conversation_from, entry_from, to_json, utc
from handover.store.postgres.sql import (
    BY_IDENTITY,
    CONVERSATION_COLUMNS,
    INSERT_CONVERSATION,
    INSERT_KEY,
)
from handover.store.postgres.step import Duplicate, write_step


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
        step.leased = []
        async with self._db.connection("step") as conn:
            try:
                await write_step(conn, step, utc(self._clock.now()))
            except Duplicate:
                return CommitResult.DUPLICATE
        return CommitResult.APPLIED

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

