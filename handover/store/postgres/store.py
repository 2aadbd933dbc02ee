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

The store is composed of one part per concern: the pool and wake hints (database.py,
pool.py), conversations, steps, the inbox and the transcript (conversations.py), the
outbox, connection leases and dead letters (outbox.py), timers (timers.py), evaluation
and retention (evaluation.py), adapter state (adapter_state.py). SQL text: sql.py,
store/evaluation_sql.py and store/adapter_state_sql.py. This module opens and closes
the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from handover.store.base import Store
from handover.store.contract import StoreError
from handover.store.migrate import load_migrations
from handover.store.postgres.adapter_state import PostgresAdapterState
from handover.store.postgres.conversations import PostgresConversations
from handover.store.postgres.database import WAKE_CHANNEL
from handover.store.postgres.evaluation import PostgresEvaluation
from handover.store.postgres.migrate import (
    MIGRATIONS_PACKAGE,
    apply_migrations,
    pending,
    recorded_version,
)
from handover.store.postgres.outbox import PostgresOutbox
from handover.store.postgres.pool import FAILURES
from handover.store.postgres.rows import utc
from handover.store.postgres.timers import PostgresTimers

__all__ = ["WAKE_CHANNEL", "PostgresStore"]


class PostgresStore(
    PostgresConversations, PostgresOutbox, PostgresTimers, PostgresEvaluation,
    PostgresAdapterState, Store,
):
    """The scale-out store engine (see the module docstring).

    Construct it with a dsn and the options of `PostgresDatabase`; nothing connects
    before `open`.
    """

    shared = True

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
