"""What every part of the SQLite store shares: its connections and how to use them.

Writes go to the `GroupCommitWriter` (see writer.py) as jobs; small reads by key run on
the event loop's thread (`_all`, `_one`), longer ones on aiosqlite's reader thread
(`_scan`). The store's parts (conversations.py, outbox.py, timers.py, evaluation.py)
subclass `SQLiteDatabase`; store.py composes them and opens and closes the connections.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from handover import metrics
from handover.clock import Clock, SystemClock
from handover.store.contract import StoreError
from handover.store.sqlite.rows import from_ts
from handover.store.sqlite.writer import GroupCommitWriter

BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")


class SQLiteDatabase:
    """The connections of one SQLite database file (see the module docstring).

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

    async def _write(self, op: Callable[[sqlite3.Connection], T], kind: str = "other") -> T:
        """Run `op` as one write job; `kind` names it in handover_store_transactions_total."""
        if self._jobs is None:
            raise StoreError("the SQLite store is not open")
        metrics.STORE_TRANSACTIONS.labels("sqlite", kind).inc()
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

    async def _change(self, sql: str, params: Sequence[Any], kind: str = "other") -> int:
        """One write statement as a job of its own; returns how many rows it changed."""

        def op(conn: sqlite3.Connection) -> int:
            return (conn.execute(sql, params)).rowcount

        return await self._write(op, kind)
