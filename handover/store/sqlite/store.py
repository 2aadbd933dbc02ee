"""The SQLite engine: WAL, one writer thread with group commit, aiosqlite for reads.

Every write is a job for the `GroupCommitWriter` (see sqlite_writer.py), which runs
queued jobs many per transaction, a SAVEPOINT each, on its own thread with a plain
`sqlite3` connection, so a duplicate or a version conflict undoes only its own step.
Reads use a second connection (aiosqlite): WAL gives it a committed snapshot per
statement, so a read never sees a batch that is still open (and might yet be rolled
back).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiosqlite

from handover.clock import Clock, SystemClock
from handover.model import (
    Conversation,
    DeadLetter,
    HandoverEvent,
    OutboxRow,
    SurveyAnswer,
    Target,
    Timer,
    TranscriptEntry,
)
from handover.store.base import CommitResult, Step, Store, StoreError, VersionConflict
from handover.store.migrate import (
    apply_migrations,
    check_not_too_new,
    load_migrations,
    recorded_version,
)
from handover.store.sqlite import evaluation as ev
from handover.store.sqlite.rows import (
    conversation_from,
    dead_letter_from,
    entry_from,
    from_ts,
    outbox_row_from,
    survey_from,
    timer_from,
    to_json,
    to_ts,
)
from handover.store.sqlite.writer import GroupCommitWriter, Rollback

MIGRATIONS_PACKAGE = "handover.store.migrations.sqlite"
BATCH_MAX = 256
BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")

_OUTBOX_COLUMNS = (
    "o.id, o.conversation_id, c.tenant, o.target, o.kind, o.payload, o.epoch, "
    "o.correlation_id, o.created_at, o.attempts, o.in_flight, o.last_error"
)
_OUTBOX_INSERT = (
    "INSERT INTO outbox (conversation_id, target, kind, payload, epoch, correlation_id, "
    "created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)"
)
# is_head = 1 lets the partial index outbox_ready_heads drive this (see 0001_init.sql).
_CLAIM = (
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox AS o "
    "JOIN conversations AS c ON c.id = o.conversation_id "
    "WHERE o.is_head = 1 AND o.next_attempt_at <= ?1 "
    "AND (o.lease_until IS NULL OR o.lease_until < ?1) "
    "ORDER BY o.next_attempt_at, o.id LIMIT ?2"
)
_CONVERSATION_COLUMNS = (
    "id, tenant, channel, channel_key, language, state, epoch, handover_no, seq, "
    "agent_name, bot_escalations, context, created_at, updated_at, version"
)
_BY_IDENTITY = (
    f"SELECT {_CONVERSATION_COLUMNS} FROM conversations "
    "WHERE tenant = ? AND channel = ? AND channel_key = ?"
)


class SQLiteStore(Store):
    """The embedded store engine (see the module docstring for the write path).

    `clock` stamps what the store records on its own (created_at, received_at, when an
    outbox item first becomes due); it defaults to the system clock and exists so tests
    with a fake clock see consistent times.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        self._path = os.fspath(path)
        self._clock: Clock = clock or SystemClock()
        self._reader: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._jobs: GroupCommitWriter | None = None

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._jobs is not None:
            return
        if self._path in ("", ":memory:"):
            # The reader and the writer are two connections and must see one file.
            raise StoreError("the SQLite store needs a file path, not an in-memory database")
        migrations = load_migrations(MIGRATIONS_PACKAGE)
        jobs = GroupCommitWriter(self._connect_writer, BATCH_MAX)
        try:
            setup = await self._connect()
            try:
                # Refuse a too-new database before anything writes to it: even switching
                # the journal mode would modify the file.
                check_not_too_new(await recorded_version(setup), migrations)
                row = await (await setup.execute("PRAGMA journal_mode = WAL")).fetchone()
                if row is None or str(row[0]).lower() != "wal":
                    raise StoreError(f"cannot enable WAL on {self._path} (got {row and row[0]})")
                await setup.execute("PRAGMA synchronous = FULL")
                await apply_migrations(setup, migrations, to_ts(self._clock.now()))
            finally:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await setup.close()
            self._reader = await self._connect()
            await self._reader.execute("PRAGMA query_only = ON")
            self._inline = self._connect_inline()
            await jobs.start()
        except BaseException as exc:
            await jobs.stop()
            await self._close_connections()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open {self._path}: {exc}") from exc
            raise
        self._jobs = jobs

    def _connect_writer(self) -> sqlite3.Connection:
        """The writer's connection, made on (and used only by) the writer thread."""
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _connect_inline(self) -> sqlite3.Connection:
        """The reader for small indexed lookups, run on the event loop's own thread.

        A lookup by key in a WAL database takes a few microseconds; handing it to
        aiosqlite's thread and back costs ten times that, several times per relayed
        message. A WAL reader never waits for the writer, so this cannot stall the loop
        behind a commit. It does not wait for a lock at all (busy_timeout 0): the rare
        read that finds one (a WAL recovery) is retried on the threaded reader.
        """
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA query_only = ON")
        return conn

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE, SAVEPOINT);
        # the sqlite3 module's implicit BEGIN would defeat both.
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA foreign_keys = ON")
        return conn

    async def close(self) -> None:
        jobs, self._jobs = self._jobs, None
        if jobs is not None:
            await jobs.stop()  # queued commits finish first
        await self._close_connections()

    async def _close_connections(self) -> None:
        if self._reader is not None:
            # Best effort: the process may be shutting down anyway.
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self._reader.close()
        self._reader = None
        if self._inline is not None:
            with contextlib.suppress(sqlite3.Error):
                self._inline.close()
        self._inline = None

    async def schema_version(self) -> int:
        row = await self._one("SELECT MAX(version) FROM schema_migrations")
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def ping(self) -> None:
        if self._jobs is None or not self._jobs.alive:
            raise StoreError("the SQLite store is not open")
        await self._one("SELECT 1")

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._jobs is None:
            raise StoreError("the SQLite store is not open")
        return await self._jobs.submit(op)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A small read (by key, or bounded by a LIMIT) on the event loop's thread."""
        if self._inline is None:
            raise StoreError("the SQLite store is not open")
        try:
            return self._inline.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return await self._scan(sql, params)  # locked (recovery): wait off the loop
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc

    async def _scan(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A read that may take a while (counts, reports): on the reader's thread."""
        if self._reader is None:
            raise StoreError("the SQLite store is not open")
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _when(self, sql: str) -> datetime | None:
        rows = await self._scan(sql)  # a MIN over a table: not a lookup by key
        row = rows[0] if rows else None
        return from_ts(row[0]) if row is not None and row[0] is not None else None

    # --- conversations --------------------------------------------------------------

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

        return await self._write(op)

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
        return await self._write(lambda conn: self._apply_step(conn, step))

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
        if step.outbox:
            conn.executemany(
                _OUTBOX_INSERT,
                [
                    (
                        o.conversation_id, str(o.target), o.kind, to_json(o.payload), o.epoch,
                        o.correlation_id, now, now,
                    )
                    for o in step.outbox
                ],
            )  # fmt: skip
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
            conn.executemany(ev.INSERT_HANDOVER_EVENT, ev.event_args(step.handover_events))
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
        await self._write(lambda conn: self._record_keys(conn, [(source, source_id)], now))

    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[TranscriptEntry]:
        rows = await self._all(
            "SELECT * FROM transcript WHERE conversation_id = ? AND seq > ? AND seq > 0 "
            "ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return [entry_from(r) for r in rows]

    async def desk_notes(self, conversation_id: str) -> list[TranscriptEntry]:
        rows = await self._all(
            "SELECT * FROM transcript WHERE conversation_id = ? AND seq = 0 ORDER BY id",
            (conversation_id,),
        )
        return [entry_from(r) for r in rows]

    # --- outbox ---------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        exclude: set[tuple[str, Target]] | None = None,
    ) -> list[OutboxRow]:
        if limit <= 0:
            return []
        skip = {(conv, Target(target)) for conv, target in exclude or ()}
        now_ts, until = to_ts(now), to_ts(now + timedelta(seconds=lease_seconds))

        def op(conn: sqlite3.Connection) -> list[OutboxRow]:
            # Each excluded queue hides at most one head, so this many candidates
            # always contain `limit` eligible ones when there are that many.
            cursor = conn.execute(_CLAIM, (now_ts, limit + len(skip)))
            rows = [outbox_row_from(r) for r in cursor.fetchall()]
            rows = [r for r in rows if (r.conversation_id, r.target) not in skip][:limit]
            if rows:
                conn.executemany(
                    "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    [(owner, until, r.id) for r in rows],
                )
            return rows

        return await self._write(op)

    async def _owned(self, sql: str, params: Sequence[Any]) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return (conn.execute(sql, params)).rowcount

        return await self._write(op)

    async def mark_in_flight(self, row_id: int, owner: str) -> None:
        await self._owned(
            "UPDATE outbox SET in_flight = 1 WHERE id = ? AND lease_owner = ?",
            (row_id, owner),
        )

    async def complete(self, row_id: int, owner: str) -> None:
        await self._owned("DELETE FROM outbox WHERE id = ? AND lease_owner = ?", (row_id, owner))

    async def reschedule(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> None:
        await self._owned(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?, in_flight = 0, "
            "attempts = attempts + 1, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (to_ts(next_attempt_at), error, row_id, owner),
        )

    async def dead_letter(
        self, row_id: int, owner: str, reason: str, now: datetime
    ) -> DeadLetter | None:
        def op(conn: sqlite3.Connection) -> DeadLetter | None:
            cursor = conn.execute(
                "INSERT INTO dead_letters (outbox_id, conversation_id, target, kind, payload, "
                "epoch, correlation_id, reason, attempts, last_error, created_at, failed_at) "
                "SELECT id, conversation_id, target, kind, payload, epoch, correlation_id, ?, "
                "attempts, last_error, created_at, ? FROM outbox WHERE id = ? AND lease_owner = ?",
                (reason, to_ts(now), row_id, owner),
            )
            if cursor.rowcount == 0:
                return None
            dead_id = cursor.lastrowid
            conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            cursor = conn.execute("SELECT * FROM dead_letters WHERE id = ?", (dead_id,))
            dead = cursor.fetchone()
            assert dead is not None  # inserted just above, in this transaction
            return dead_letter_from(dead)

        return await self._write(op)

    async def release_leases(self, owner: str | None = None) -> int:
        return await self._owned(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner IS NOT NULL AND (?1 IS NULL OR lease_owner = ?1)",
            (owner,),
        )

    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        rows = await self._scan("SELECT COUNT(*), MIN(created_at) FROM outbox")
        row = rows[0] if rows else None
        if row is None or not row[0]:
            return 0, 0.0
        return int(row[0]), max(0.0, to_ts(now) - float(row[1]))

    async def outbox_for(self, conversation_id: str) -> list[OutboxRow]:
        rows = await self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox AS o "
            "JOIN conversations AS c ON c.id = o.conversation_id "
            "WHERE o.conversation_id = ? ORDER BY o.id",
            (conversation_id,),
        )
        return [outbox_row_from(r) for r in rows]

    async def next_due(self) -> datetime | None:
        # Only queue heads can become claimable, and a leased head only when its lease
        # runs out; counting the rows behind them would make a worker spin on work it
        # cannot claim.
        return await self._when(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, next_attempt_at))) "
            "FROM outbox WHERE is_head = 1"
        )

    # --- dead letters ---------------------------------------------------------------

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = await self._all("SELECT * FROM dead_letters ORDER BY id LIMIT ?", (limit,))
        return [dead_letter_from(r) for r in rows]

    async def replay_dead_letter(self, dead_id: int, now: datetime) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO outbox (conversation_id, target, kind, payload, epoch, "
                "correlation_id, created_at, attempts, next_attempt_at) "
                "SELECT conversation_id, target, kind, payload, epoch, correlation_id, ?1, 0, ?1 "
                "FROM dead_letters WHERE id = ?2",
                (to_ts(now), dead_id),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
            return True

        return await self._write(op)

    # --- timers ---------------------------------------------------------------------

    async def due_timers(self, now: datetime, limit: int = 100) -> list[Timer]:
        rows = await self._all(
            "SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, conversation_id, name LIMIT ?",
            (to_ts(now), limit),
        )
        return [timer_from(r) for r in rows]

    async def next_timer(self) -> datetime | None:
        return await self._when("SELECT MIN(due_at) FROM timers")

    async def timer(self, conversation_id: str, name: str) -> Timer | None:
        row = await self._one(
            "SELECT * FROM timers WHERE conversation_id = ? AND name = ?", (conversation_id, name)
        )
        return timer_from(row) if row is not None else None

    # --- surveys and privacy --------------------------------------------------------

    async def survey_answers(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[SurveyAnswer]:
        sql, params = ev.filtered(
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
        sql, params = ev.filtered("handover_events", "at", tenant, since, until, conversation_id)
        return [ev.handover_event_from(r) for r in await self._scan(sql, params)]

    async def conversation_counts(
        self, tenant: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        rows = await self._scan(ev.CONVERSATION_COUNTS, (tenant, to_ts(since), to_ts(until)))
        return {r["channel"]: int(r["n"]) for r in rows}

    async def conversation_ids(self, tenant: str, since: datetime, until: datetime) -> list[str]:
        rows = await self._scan(ev.CONVERSATION_IDS, (tenant, to_ts(since), to_ts(until)))
        return [r["id"] for r in rows]

    async def purge_bodies(
        self, tenant: str, inactive_before: datetime, now: datetime, limit: int
    ) -> int:
        cutoff, stamp = to_ts(inactive_before), to_ts(now)
        return await self._write(lambda conn: ev.purge_bodies(conn, tenant, cutoff, stamp, limit))

    async def purge_metadata(self, tenant: str, inactive_before: datetime, limit: int) -> int:
        cutoff = to_ts(inactive_before)
        return await self._write(lambda conn: ev.purge_metadata(conn, tenant, cutoff, limit))

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
            for table in ("transcript", "outbox", "timers", "dead_letters"):
                conn.execute(
                    f"DELETE FROM {table} WHERE conversation_id = ?", (conversation_id,)
                )
            # The score and outcome stay for statistics; the free text may identify.
            conn.execute(
                "UPDATE survey_answers SET comment = NULL WHERE conversation_id = ?",
                (conversation_id,),
            )
            return True

        return await self._write(op)

    async def purge_inbox(self, older_than: datetime) -> int:
        return await self._owned("DELETE FROM inbox WHERE received_at < ?", (to_ts(older_than),))
