"""The PostgreSQL engine: asyncpg, a connection pool, one transaction per write.

For several daemon instances on one database. Every `commit` is one transaction; the
conversation row is written (and so locked) before anything else of the step, so two
steps of one conversation serialise, the loser gets VersionConflict, and outbox ids of
one queue commit in id order. `claim` leases queue heads with ``FOR UPDATE SKIP
LOCKED``: instances claiming at the same moment never get the same row, nor two rows of
one (conversation, target) queue, and never wait on each other.

Committed outbox items and timers also send a NOTIFY on `WAKE_CHANNEL`; `listen` turns
those into a callback so an idle worker of any instance can wake at once. It is a hint
only: notifications are lost while a listener reconnects, so workers keep polling.

Connections, pool size and timeouts: postgres_pool.py. SQL text: postgres_sql.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from handover.clock import Clock, SystemClock
from handover.model import (
    Conversation,
    DeadLetter,
    HandoverEvent,
    OutboxRow,
    SurveyAnswer,
    Target,
    Timer,
)
from handover.model import TranscriptEntry as Entry
from handover.store.base import CommitResult, Step, Store, StoreError, VersionConflict
from handover.store.migrate import load_migrations
from handover.store.postgres import evaluation as ev
from handover.store.postgres.migrate import (
    MIGRATIONS_PACKAGE,
    apply_migrations,
    pending,
    recorded_version,
)
from handover.store.postgres.pool import (
    FAILURES,
    POOL_MAX,
    POOL_MIN,
    STATEMENT_TIMEOUT,
    PgConnections,
    count,
)
from handover.store.postgres.rows import (
    conversation_from,
    dead_letter_from,
    entry_from,
    outbox_row_from,
    survey_from,
    timer_from,
    to_json,
    utc,
)
from handover.store.postgres.sql import (
    BY_IDENTITY,
    CLAIM,
    CONVERSATION_COLUMNS,
    DEAD_LETTER,
    HOLD_CONNECTIONS,
    INSERT_CONVERSATION,
    INSERT_KEY,
    INSERT_OUTBOX,
    INSERT_SURVEY,
    INSERT_TRANSCRIPT,
    NEXT_DUE,
    OUTBOX_COLUMNS,
    REPLAY,
    SET_TIMER,
    TAKE_OVER_CITIZEN_ITEMS,
    UPDATE_CONVERSATION,
)

WAKE_CHANNEL = "handover_wake"


class _Duplicate(Exception):
    """The step's inbox key was seen before: undo the transaction."""


class PostgresStore(Store):
    """The scale-out store engine (see the module docstring).

    `migrate=False` makes `open` refuse a database with pending migrations instead of
    applying them (they are then applied with `handover migrate`). `clock` stamps what
    the store records on its own; times are never taken from the database server.
    Pool size and timeouts: see postgres_pool.py for the defaults and their reasons.
    """

    shared = True

    def __init__(
        self,
        dsn: str,
        *,
        clock: Clock | None = None,
        migrate: bool = True,
        pool_min: int = POOL_MIN,
        pool_max: int = POOL_MAX,
        statement_timeout: float = STATEMENT_TIMEOUT,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._migrate = migrate
        self._db = PgConnections(
            dsn, pool_min=pool_min, pool_max=pool_max, statement_timeout=statement_timeout
        )

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._db.is_open:
            return
        migrations = load_migrations(MIGRATIONS_PACKAGE)
        conn = await self._db.connect()
        try:
            # pending() raises SchemaTooNew before anything is written.
            todo = pending(await recorded_version(conn), migrations)
            if todo and not self._migrate:
                names = ", ".join(m.name for m in todo)
                raise StoreError(
                    f"the database needs migrations ({names}) and [store] migrate = "
                    '"manual": run `handover migrate --config FILE` first'
                )
            if todo:
                await apply_migrations(conn, migrations, utc(self._clock.now()))
        except FAILURES as exc:
            raise StoreError(f"cannot open the PostgreSQL store: {exc}") from exc
        finally:
            with contextlib.suppress(*FAILURES):
                await conn.close()
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        version = await self._db.fetchval("SELECT MAX(version) FROM schema_migrations")
        return int(version) if version is not None else 0

    async def ping(self) -> None:
        await self._db.fetchval("SELECT 1")

    async def wake_hints(self, on_wake: Callable[[str], None]) -> bool:
        await self.listen(on_wake)
        return True

    async def listen(self, on_wake: Callable[[str], None]) -> None:
        """Call `on_wake("outbox")` / `on_wake("timers")` when any instance commits new
        outbox items or timers. A hint only (see the module docstring); the connection
        is the store's own and is closed with it. Raises StoreError when it cannot
        connect."""
        await self._db.listen(WAKE_CHANNEL, on_wake)

    # --- conversations --------------------------------------------------------------

    async def resolve_conversation(self, candidate: Conversation) -> Conversation:
        identity = (candidate.tenant, candidate.channel, candidate.channel_key)
        async with self._db.connection() as conn:
            row = await conn.fetchrow(BY_IDENTITY, *identity)
            if row is None:
                # Autocommit: a concurrent creator's insert wins, ours does nothing, and
                # the read that follows sees the winner (READ COMMITTED).
                sql = INSERT_CONVERSATION + " ON CONFLICT DO NOTHING"
                await self._insert_conversation(conn, candidate, sql)
                row = await conn.fetchrow(BY_IDENTITY, *identity)
        if row is None:
            raise StoreError(f"conversation id {candidate.id} is taken by another identity")
        return conversation_from(row)

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
        async with self._db.connection() as conn:
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
        if step.outbox:
            await conn.executemany(
                INSERT_OUTBOX,
                [
                    (o.conversation_id, str(o.target), o.kind, to_json(o.payload), o.epoch,
                     o.correlation_id, now)
                    for o in step.outbox
                ],
            )  # fmt: skip
            await _notify(conn, "outbox")
        # Cancel before set: a step that restarts a timer may name it in both lists.
        if step.timers_cancelled:
            await conn.execute(
                "DELETE FROM timers WHERE conversation_id = $1 AND name = ANY($2::text[])",
                c.id, step.timers_cancelled,
            )  # fmt: skip
        if step.timers_set:
            timers = [(t.conversation_id, t.name, utc(t.due_at), t.epoch) for t in step.timers_set]
            await conn.executemany(SET_TIMER, timers)
            await _notify(conn, "timers")
        if step.survey is not None:
            s = step.survey
            await conn.execute(
                INSERT_SURVEY, s.conversation_id, s.tenant, s.channel, s.handover_no, s.score,
                s.comment, s.outcome, utc(s.answered_at),
            )  # fmt: skip
        if step.echo_keys:
            await conn.executemany(INSERT_KEY, [(src, sid, now) for src, sid in step.echo_keys])
        if step.handover_events:
            await conn.executemany(ev.INSERT_HANDOVER_EVENT, ev.event_args(step.handover_events))

    async def seen(self, source: str, source_id: str) -> bool:
        row = await self._db.fetchrow(
            "SELECT 1 FROM inbox WHERE source = $1 AND source_id = $2", source, source_id
        )
        return row is not None

    async def record_echo(self, source: str, source_id: str) -> None:
        await self._db.execute(INSERT_KEY, source, source_id, utc(self._clock.now()))

    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[Entry]:
        rows = await self._db.fetch(
            "SELECT * FROM transcript WHERE conversation_id = $1 AND seq > $2 AND seq > 0 "
            "ORDER BY seq LIMIT $3",
            conversation_id, after_seq, limit,
        )  # fmt: skip
        return [entry_from(r) for r in rows]

    async def desk_notes(self, conversation_id: str) -> list[Entry]:
        rows = await self._db.fetch(
            "SELECT * FROM transcript WHERE conversation_id = $1 AND seq = 0 ORDER BY id",
            conversation_id,
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
        skip = sorted((conv, str(Target(target))) for conv, target in exclude or ())
        now = utc(now)
        rows = await self._db.fetch(
            CLAIM, now, now + timedelta(seconds=lease_seconds), limit, owner,
            [conv for conv, _ in skip], [target for _, target in skip],
        )  # fmt: skip
        # UPDATE ... RETURNING has no order; hand rows out in the order they were due.
        rows.sort(key=lambda r: (r["next_attempt_at"], r["id"]))
        return [outbox_row_from(r) for r in rows]

    async def mark_in_flight(self, row_id: int, owner: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET in_flight = true WHERE id = $1 AND lease_owner = $2", row_id, owner
        )

    async def complete(self, row_id: int, owner: str) -> None:
        await self._db.execute(
            "DELETE FROM outbox WHERE id = $1 AND lease_owner = $2", row_id, owner
        )

    async def reschedule(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> None:
        await self._db.execute(
            "UPDATE outbox SET next_attempt_at = $1, last_error = $2, in_flight = false, "
            "attempts = attempts + 1, lease_owner = NULL, lease_until = NULL "
            "WHERE id = $3 AND lease_owner = $4",
            utc(next_attempt_at), error, row_id, owner,
        )  # fmt: skip

    async def dead_letter(
        self, row_id: int, owner: str, reason: str, now: datetime
    ) -> DeadLetter | None:
        row = await self._db.fetchrow(DEAD_LETTER, row_id, owner, reason, utc(now))
        return dead_letter_from(row) if row is not None else None

    async def release_leases(self, owner: str | None = None) -> int:
        return await self._db.execute(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner IS NOT NULL AND ($1::text IS NULL OR lease_owner = $1)",
            owner,
        )

    async def hold_connections(
        self, owner: str, conversation_ids: Sequence[str], until: datetime
    ) -> None:
        if not conversation_ids:
            return
        ids = list(conversation_ids)
        async with self._db.connection() as conn, conn.transaction():
            await conn.execute(HOLD_CONNECTIONS, ids, owner, utc(until))
            await conn.execute(TAKE_OVER_CITIZEN_ITEMS, ids, owner)

    async def renew_connections(self, owner: str, until: datetime) -> int:
        return await self._db.execute(
            "UPDATE connection_leases SET until = $2 WHERE owner = $1", owner, utc(until)
        )

    async def drop_connections(
        self, owner: str, conversation_ids: Sequence[str] | None = None
    ) -> None:
        await self._db.execute(
            "DELETE FROM connection_leases WHERE owner = $1 "
            "AND ($2::text[] IS NULL OR conversation_id = ANY($2::text[]))",
            owner, None if conversation_ids is None else list(conversation_ids),
        )  # fmt: skip

    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        row = await self._db.fetchrow("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox")
        if row is None or not row["n"]:
            return 0, 0.0
        return int(row["n"]), max(0.0, (utc(now) - row["oldest"]).total_seconds())

    async def outbox_for(self, conversation_id: str) -> list[OutboxRow]:
        rows = await self._db.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox AS o "
            "JOIN conversations AS c ON c.id = o.conversation_id "
            "WHERE o.conversation_id = $1 ORDER BY o.id",
            conversation_id,
        )
        return [outbox_row_from(r) for r in rows]

    async def next_due(self) -> datetime | None:
        value: datetime | None = await self._db.fetchval(NEXT_DUE)
        return value

    # --- dead letters ---------------------------------------------------------------

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = await self._db.fetch("SELECT * FROM dead_letters ORDER BY id LIMIT $1", limit)
        return [dead_letter_from(r) for r in rows]

    async def replay_dead_letter(self, dead_id: int, now: datetime) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            # Lock the conversation first, as a step does, so ids of the queue commit
            # in order (see the module docstring).
            await conn.execute(
                "SELECT 1 FROM conversations WHERE id = "
                "(SELECT conversation_id FROM dead_letters WHERE id = $1) FOR UPDATE",
                dead_id,
            )
            if count(await conn.execute(REPLAY, dead_id, utc(now))) == 0:
                return False
            await _notify(conn, "outbox")
            return True

    # --- timers ---------------------------------------------------------------------

    async def due_timers(self, now: datetime, limit: int = 100) -> list[Timer]:
        rows = await self._db.fetch(
            "SELECT * FROM timers WHERE due_at <= $1 "
            "ORDER BY due_at, conversation_id, name LIMIT $2",
            utc(now), limit,
        )  # fmt: skip
        return [timer_from(r) for r in rows]

    async def next_timer(self) -> datetime | None:
        value: datetime | None = await self._db.fetchval("SELECT MIN(due_at) FROM timers")
        return value

    async def timer(self, conversation_id: str, name: str) -> Timer | None:
        row = await self._db.fetchrow(
            "SELECT * FROM timers WHERE conversation_id = $1 AND name = $2", conversation_id, name
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
        return [survey_from(r) for r in await self._db.fetch(sql, *params)]

    async def handover_events(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[HandoverEvent]:
        sql, params = ev.filtered("handover_events", "at", tenant, since, until, conversation_id)
        return [ev.handover_event_from(r) for r in await self._db.fetch(sql, *params)]

    async def conversation_counts(
        self, tenant: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        rows = await self._db.fetch(ev.CONVERSATION_COUNTS, tenant, utc(since), utc(until))
        return {r["channel"]: int(r["n"]) for r in rows}

    async def conversation_ids(self, tenant: str, since: datetime, until: datetime) -> list[str]:
        rows = await self._db.fetch(ev.CONVERSATION_IDS, tenant, utc(since), utc(until))
        return [r["id"] for r in rows]

    async def purge_bodies(
        self, tenant: str, inactive_before: datetime, now: datetime, limit: int
    ) -> int:
        async with self._db.connection() as conn, conn.transaction():
            return await ev.purge_bodies(conn, tenant, inactive_before, now, limit)

    async def purge_metadata(self, tenant: str, inactive_before: datetime, limit: int) -> int:
        async with self._db.connection() as conn, conn.transaction():
            return await ev.purge_metadata(conn, tenant, inactive_before, limit)

    async def erase_conversation(self, conversation_id: str) -> bool:
        now = utc(self._clock.now())
        async with self._db.connection() as conn, conn.transaction():
            # version + 1 so a step computed before the erasure conflicts instead of
            # writing the old context back.
            status = await conn.execute(
                "UPDATE conversations SET channel_key = 'erased:' || id, context = '{}', "
                "agent_name = NULL, updated_at = $1, version = version + 1 WHERE id = $2",
                now, conversation_id,
            )  # fmt: skip
            if count(status) == 0:
                return False
            for table in ("transcript", "outbox", "timers", "dead_letters"):
                sql = f"DELETE FROM {table} WHERE conversation_id = $1"
                await conn.execute(sql, conversation_id)
            # The score and outcome stay for statistics; the free text may identify.
            await conn.execute(
                "UPDATE survey_answers SET comment = NULL WHERE conversation_id = $1",
                conversation_id,
            )
            return True

    async def purge_inbox(self, older_than: datetime) -> int:
        return await self._db.execute("DELETE FROM inbox WHERE received_at < $1", utc(older_than))


def _entry_args(e: Entry, now: datetime) -> tuple[Any, ...]:
    return (
        e.conversation_id, e.seq, str(e.party), to_json(e.content.to_json()), e.message_id,
        e.sender_name, utc(e.created_at) if e.created_at else now, e.handover_no,
    )  # fmt: skip


async def _notify(conn: Any, what: str) -> None:
    # Sent at COMMIT (and dropped on rollback); equal payloads in one transaction
    # are folded into one by the server.
    await conn.execute("SELECT pg_notify($1, $2)", WAKE_CHANNEL, what)
