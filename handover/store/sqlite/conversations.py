"""Conversations, steps, the inbox and the transcript, for the SQLite engine.

A step is one group-commit job (`_apply_step` runs on the writer thread inside the
batch's transaction, under a savepoint of its own); a duplicate inbox key undoes the
job through `Rollback`, a version conflict through the exception.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from handover.model import Conversation, TranscriptEntry
from handover.store.contract import (
    CommitResult,
    ConversationStore,
    InboxStore,
    Step,
    StoreError,
    TranscriptStore,
    VersionConflict,
)
from handover.store.sqlite.database import SQLiteDatabase
from handover.store.sqlite.evaluation import EVALUATION_SQL
from handover.store.sqlite.outbox import insert_outbox
from handover.store.sqlite.rows import conversation_from, entry_from, to_json, to_ts
from handover.store.sqlite.writer import Rollback

_CONVERSATION_COLUMNS = (
    "id, tenant, channel, channel_key, language, state, epoch, handover_no, seq, "
    "agent_name, bot_escalations, context, created_at, updated_at, version"
)
_BY_IDENTITY = (
    f"SELECT {_CONVERSATION_COLUMNS} FROM conversations "
    "WHERE tenant = ? AND channel = ? AND channel_key = ?"
)


class SQLiteConversations(SQLiteDatabase, ConversationStore, TranscriptStore, InboxStore):
    """Conversation rows, the atomic step, dedup keys and transcript reads."""

    async def resolve_conversation(self, candidate: Conversation) -> Conversation:
        identity = (candidate.tenant, candidate.channel, candidate.channel_key)
        # Almost every call finds an existing conversation: try without the writer.
        row = await self._one(_BY_IDENTITY, identity)
        if row is not None:
            return conversation_from(row)

        def op(conn: sqlite3.Connection) -> Conversation:
            self._insert_conversation(conn, candidate, ignore_existing=True)
            row = conn.execute(_BY_IDENTITY, identity).fetchone()
            if row is None:
                raise StoreError(f"conversation id {candidate.id} is taken by another identity")
            return conversation_from(row)

        return await self._write(op, "conversation")

    async def find_conversation(
        self, tenant: str, channel: str, channel_key: str
    ) -> Conversation | None:
        row = await self._one(_BY_IDENTITY, (tenant, channel, channel_key))
        return conversation_from(row) if row is not None else None

    async def count_conversations(self) -> int:
        row = await self._one("SELECT COUNT(*) FROM conversations", ())
        return int(row[0]) if row is not None else 0

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return conversation_from(row) if row is not None else None

    def _insert_conversation(
        self, conn: sqlite3.Connection, c: Conversation, *, ignore_existing: bool
    ) -> None:
        now = self._clock.now()
        conn.execute(
            f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
            + (" ON CONFLICT DO NOTHING" if ignore_existing else ""),
            (
                c.id, c.tenant, c.channel, c.channel_key, c.language, str(c.state), c.epoch,
                c.handover_no, c.seq, c.agent_name, c.bot_escalations, to_json(dict(c.context)),
                to_ts(c.created_at or now), to_ts(c.updated_at or now),
            ),
        )  # fmt: skip

    async def commit(self, step: Step) -> CommitResult:
        return await self._write(lambda conn: self._apply_step(conn, step), "step")

    def _apply_step(self, conn: sqlite3.Connection, step: Step) -> CommitResult:
        now = to_ts(self._clock.now())
        if step.inbox_key is not None:
            cursor = conn.execute(
                "INSERT INTO inbox (source, source_id, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (*step.inbox_key, now),
            )
            if cursor.rowcount == 0:
                raise Rollback(CommitResult.DUPLICATE)
        c = step.conversation
        if c.version == 0:
            try:
                self._insert_conversation(conn, c, ignore_existing=False)
            except sqlite3.IntegrityError as exc:
                # The caller believed it was new; someone stored it meanwhile.
                raise VersionConflict(f"conversation {c.id} already exists") from exc
        else:
            # Identity (tenant, channel, channel_key) is never rewritten here, so a step
            # computed before an erasure cannot restore the erased key.
            cursor = conn.execute(
                "UPDATE conversations SET language = ?, state = ?, epoch = ?, handover_no = ?, "
                "seq = ?, agent_name = ?, bot_escalations = ?, context = ?, updated_at = ?, "
                "version = version + 1 WHERE id = ? AND version = ?",
                (
                    c.language, str(c.state), c.epoch, c.handover_no, c.seq, c.agent_name,
                    c.bot_escalations, to_json(dict(c.context)), now, c.id, c.version,
                ),
            )  # fmt: skip
            if cursor.rowcount == 0:
                raise VersionConflict(f"conversation {c.id} changed since version {c.version}")
        if step.transcript:
            conn.executemany(
                "INSERT INTO transcript (conversation_id, seq, party, content, message_id, "
                "sender_name, created_at, handover_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.conversation_id, e.seq, str(e.party), to_json(e.content.to_json()),
                        e.message_id, e.sender_name,
                        to_ts(e.created_at) if e.created_at else now, e.handover_no,
                    )
                    for e in step.transcript
                ],
            )  # fmt: skip
        if step.completed and step.lease_owner is not None:
            # Before the new items: a queue whose head this removes gets its new head now.
            conn.executemany(
                "DELETE FROM outbox WHERE id = ? AND lease_owner = ?",
                [(row_id, step.lease_owner) for row_id in step.completed],
            )
        step.leased = []
        if step.outbox:
            step.leased = insert_outbox(conn, step, now)
        # Cancel before set: a step that restarts a timer may name it in both lists.
        if step.timers_cancelled:
            conn.executemany(
                "DELETE FROM timers WHERE conversation_id = ? AND name = ?",
                [(c.id, name) for name in step.timers_cancelled],
            )
        if step.timers_set:
            conn.executemany(
                "INSERT INTO timers (conversation_id, name, due_at, epoch) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation_id, name) "
                "DO UPDATE SET due_at = excluded.due_at, epoch = excluded.epoch",
                [(t.conversation_id, t.name, to_ts(t.due_at), t.epoch) for t in step.timers_set],
            )
        if step.survey is not None:
            s = step.survey
            conn.execute(
                "INSERT INTO survey_answers (conversation_id, tenant, channel, handover_no, "
                "score, comment, outcome, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (s.conversation_id, s.tenant, s.channel, s.handover_no, s.score, s.comment,
                 s.outcome, to_ts(s.answered_at)),
            )  # fmt: skip
        if step.echo_keys:
            self._record_keys(conn, step.echo_keys, now)
        if step.handover_events:
            conn.executemany(
                EVALUATION_SQL.insert_handover_event,
                EVALUATION_SQL.event_args(step.handover_events),
            )
        return CommitResult.APPLIED

    def _record_keys(
        self, conn: sqlite3.Connection, keys: Iterable[tuple[str, str]], now: float
    ) -> None:
        conn.executemany(
            "INSERT INTO inbox (source, source_id, received_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(source, source_id, now) for source, source_id in keys],
        )

    async def seen(self, source: str, source_id: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM inbox WHERE source = ? AND source_id = ?", (source, source_id)
        )
        return row is not None

    async def record_echo(self, source: str, source_id: str) -> None:
        now = to_ts(self._clock.now())
        await self._write(lambda conn: self._record_keys(conn, [(source, source_id)], now), "echo")

    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[TranscriptEntry]:
        rows = await self._all(
            "SELECT * FROM transcript WHERE conversation_id = ? AND seq > ? AND seq > 0 "
            "ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return [entry_from(r) for r in rows]

    async def transcript_tail(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        rows = await self._all(
            "SELECT * FROM transcript WHERE conversation_id = ? AND seq > 0 "
            "ORDER BY seq DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [entry_from(r) for r in reversed(rows)]

    async def desk_notes(self, conversation_id: str) -> list[TranscriptEntry]:
        rows = await self._all(
            "SELECT * FROM transcript WHERE conversation_id = ? AND seq = 0 ORDER BY id",
            (conversation_id,),
        )
        return [entry_from(r) for r in rows]

    async def purge_inbox(self, older_than: datetime) -> int:
        return await self._change("DELETE FROM inbox WHERE received_at < ?", (to_ts(older_than),))
