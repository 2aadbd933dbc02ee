"""Connections of the PostgreSQL engine: the asyncpg pool, its settings, orderly close.

Every operation of the store borrows a pooled connection through `connection()`,
which turns driver errors into the store's exceptions and counts operations in
progress, so `close()` lets them finish (and refuses new ones) before the pool goes.

Defaults: 1..10 connections per daemon instance (size the server's max_connections
for instances x pool_max plus a margin), a 30 s statement timeout, and a transaction
left idle for 60 s is ended by the server so a frozen instance cannot hold row locks
for longer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any

import asyncpg
import structlog

from handover import metrics
from handover.store.base import StoreError, VersionConflict

log = structlog.get_logger("handover.store.postgres.store")

#: Waits between attempts to listen again after the listening connection was lost.
RELISTEN_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

POOL_MIN = 1
POOL_MAX = 10
STATEMENT_TIMEOUT = 30.0
IDLE_IN_TRANSACTION_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0

# What asyncpg raises when the server or the connection cannot serve.
FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


#: The store operation the statements on this task serve (a label of the round-trip
#: counter); "read" unless a write says otherwise through `PgConnections.connection`.
_operation: ContextVar[str] = ContextVar("handover_pg_operation", default="read")


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection that counts its network round trips.

    Every statement is one round trip (a transaction's BEGIN and COMMIT included, and
    an `executemany` batch, which asyncpg pipelines); a statement this connection has
    not prepared before costs one more, to prepare it. Counted in
    handover_store_round_trips_total by the operation being served.
    """

    def _count(self) -> None:
        metrics.STORE_ROUND_TRIPS.labels(_operation.get()).inc()

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        self._count()
        status: str = await super().execute(query, *args, timeout=timeout)
        return status

    async def executemany(self, command: str, args: Any, *, timeout: float | None = None) -> Any:
        self._count()
        return await super().executemany(command, args, timeout=timeout)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None,
                    record_class: Any = None) -> list[Any]:
        self._count()
        rows: list[Any] = await super().fetch(
            query, *args, timeout=timeout, record_class=record_class)
        return rows

    async def fetchval(self, query: str, *args: Any, column: int = 0,
                       timeout: float | None = None) -> Any:
        self._count()
        return await super().fetchval(query, *args, column=column, timeout=timeout)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None,
                       record_class: Any = None) -> Any:
        self._count()
        return await super().fetchrow(
            query, *args, timeout=timeout, record_class=record_class)

    async def _get_statement(self, query: str, timeout: Any, **kwargs: Any) -> Any:
        # A cache miss is a Parse/Describe exchange before the statement itself runs.
        cached = self._stmt_cache.get(
            (query, kwargs.get("record_class") or self._protocol.get_record_class(),
             kwargs.get("ignore_custom_codec", False)))
        if cached is None:
            self._count()
        return await super()._get_statement(query, timeout, **kwargs)


def count(status: str) -> int:
    """Rows touched, from a command status such as 'UPDATE 3' or 'INSERT 0 1'."""
    return int(status.rsplit(" ", 1)[-1])


class PgConnections:
    """The pool of one store, plus its LISTEN connections."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_min: int = POOL_MIN,
        pool_max: int = POOL_MAX,
        statement_timeout: float = STATEMENT_TIMEOUT,
    ) -> None:
        self._dsn = dsn
        self._pool_min, self._pool_max = pool_min, pool_max
        self._statement_timeout = statement_timeout
        self._pool: Any = None
        self._listeners: list[Any] = []
        self._relistening: set[asyncio.Task[None]] = set()
        self._closing = False
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def is_open(self) -> bool:
        return self._pool is not None and not self._closing

    def _server_settings(self) -> dict[str, str]:
        return {
            "application_name": "handover",
            "statement_timeout": str(int(self._statement_timeout * 1000)),
            "idle_in_transaction_session_timeout": str(int(IDLE_IN_TRANSACTION_TIMEOUT * 1000)),
        }

    async def connect(self) -> Any:
        """One connection outside the pool (migrations, LISTEN); the caller closes it."""
        try:
            return await asyncpg.connect(
                self._dsn, timeout=CONNECT_TIMEOUT, server_settings=self._server_settings()
            )
        except (*FAILURES, ValueError) as exc:
            # The message names host and user at most; the DSN (and its password) never.
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._pool_min,
                max_size=self._pool_max,
                # The server's statement_timeout answers first; this catches a dead link.
                command_timeout=self._statement_timeout + 5,
                timeout=CONNECT_TIMEOUT,
                server_settings=self._server_settings(),
                reset=_keep_session,
                connection_class=CountingConnection,
            )
        except (*FAILURES, ValueError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        self._closing = False

    async def close(self) -> None:
        if self._pool is None:
            return
        self._closing = True  # refuse new work; what already started finishes
        await self._idle.wait()
        for task in list(self._relistening):
            task.cancel()
        for conn in list(self._listeners):
            with contextlib.suppress(*FAILURES):
                await conn.close()
        self._listeners.clear()
        pool, self._pool = self._pool, None
        with contextlib.suppress(*FAILURES):
            await asyncio.wait_for(pool.close(), CONNECT_TIMEOUT)

    @contextlib.asynccontextmanager
    async def connection(self, write: str | None = None) -> AsyncIterator[Any]:
        """A pooled connection for one operation; driver errors become StoreError.

        `write` names an operation that writes (a transaction, or one autocommit
        statement) in handover_store_transactions_total; None is a read."""
        if not self.is_open:
            raise StoreError("the PostgreSQL store is not open")
        self._active += 1
        self._idle.clear()
        token = _operation.set(write or "read")
        if write is not None:
            metrics.STORE_TRANSACTIONS.labels("postgres", write).inc()
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except asyncpg.DeadlockDetectedError as exc:
            # The whole transaction was undone; re-reading and retrying is the cure,
            # which is what callers do on a conflict.
            raise VersionConflict(f"deadlock with a concurrent write: {exc}") from exc
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise StoreError(f"constraint violated: {exc}") from exc
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL operation failed: {exc}") from exc
        finally:
            _operation.reset(token)
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def execute(self, sql: str, *args: Any, write: str = "other") -> int:
        """Run one write statement in autocommit; returns the number of rows it touched."""
        async with self.connection(write) as conn:
            return count(await conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any, write: str | None = None) -> list[Any]:
        """Rows of one statement (`write`: see `connection`)."""
        async with self.connection(write) as conn:
            return list(await conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any, write: str | None = None) -> Any:
        async with self.connection(write) as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any, write: str | None = None) -> Any:
        async with self.connection(write) as conn:
            return await conn.fetchval(sql, *args)

    async def listen(self, channel: str, on_payload: Callable[[str], None]) -> None:
        """Call `on_payload` for each NOTIFY on `channel`, on a connection of its own
        that lives until `close()`. When that connection is lost (a database restart, a
        fail-over), it is opened again in the background, and `on_payload` is called
        with "outbox" and "timers" once it listens again: hints sent meanwhile are gone."""
        if not self.is_open:
            raise StoreError("the PostgreSQL store is not open")
        conn = await self.connect()
        try:
            await self._subscribe(conn, channel, on_payload)
        except FAILURES as exc:
            with contextlib.suppress(*FAILURES):
                await conn.close()
            raise StoreError(f"cannot LISTEN on PostgreSQL: {exc}") from exc

    async def _subscribe(self, conn: Any, channel: str,
                         on_payload: Callable[[str], None]) -> None:
        def deliver(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            on_payload(payload)

        def lost(lost_conn: Any) -> None:
            if lost_conn in self._listeners:
                self._listeners.remove(lost_conn)
            if self.is_open:
                log.warning("store.listen_lost", channel=channel)
                task = asyncio.get_running_loop().create_task(
                    self._relisten(channel, on_payload))
                self._relistening.add(task)
                task.add_done_callback(self._relistening.discard)

        await conn.add_listener(channel, deliver)
        conn.add_termination_listener(lost)
        self._listeners.append(conn)

    async def _relisten(self, channel: str, on_payload: Callable[[str], None]) -> None:
        attempt = 0
        while self.is_open:
            await asyncio.sleep(RELISTEN_DELAYS[min(attempt, len(RELISTEN_DELAYS) - 1)])
            attempt += 1
            try:
                conn = await self.connect()
            except StoreError:
                continue
            try:
                await self._subscribe(conn, channel, on_payload)
            except FAILURES:
                with contextlib.suppress(*FAILURES):
                    await conn.close()
                continue
            log.info("store.listen_restored", channel=channel, attempts=attempt)
            for what in ("outbox", "timers"):
                on_payload(what)
            return


async def _keep_session(conn: Any) -> None:
    """Reset a pooled connection on release: nothing beyond asyncpg's own rollback.

    asyncpg's default also runs `RESET ALL; UNLISTEN *; CLOSE ALL; SELECT
    pg_advisory_unlock_all()`, one more round trip per use of the pool (a third of the
    time of a short query on loopback). The store leaves nothing of that kind on a
    pooled connection: session settings are fixed at connect, LISTEN and the migration
    lock use connections of their own, and no cursor outlives its transaction. An open
    transaction is still rolled back by asyncpg before this is called.
    """
