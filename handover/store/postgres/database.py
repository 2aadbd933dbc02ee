"""What every part of the PostgreSQL store shares: the pool, the clock, wake hints.

The store's parts (conversations.py, outbox.py, timers.py, evaluation.py) subclass
`PostgresDatabase`; store.py composes them and opens and closes the pool.
"""

from __future__ import annotations

from typing import Any

from handover.clock import Clock, SystemClock
from handover.store.postgres.pool import POOL_MAX, POOL_MIN, STATEMENT_TIMEOUT, PgConnections

#: Committed outbox items and timers send a NOTIFY here (see `notify`).
WAKE_CHANNEL = "handover_wake"


class PostgresDatabase:
    """The connections of one PostgreSQL database (see pool.py for the defaults of pool
    size and timeouts, and their reasons).

    `migrate=False` makes `open` refuse a database with pending migrations instead of
    applying them (they are then applied with `handover migrate`). `clock` stamps what
    the store records on its own; times are never taken from the database server.
    """

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


async def notify(conn: Any, what: str) -> None:
    """Wake the idle workers of every instance (`what`: "outbox" or "timers") once the
    transaction on `conn` commits."""
    # Sent at COMMIT (and dropped on rollback); equal payloads in one transaction
    # are folded into one by the server.
    await conn.execute("SELECT pg_notify($1, $2)", WAKE_CHANNEL, what)
