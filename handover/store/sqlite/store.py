"""The SQLite engine: WAL, one writer thread with group commit, aiosqlite for reads.

Every write is a job for the `GroupCommitWriter` (see writer.py), which runs queued
jobs many per transaction, a SAVEPOINT each, on its own thread with a plain `sqlite3`
connection, so a duplicate or a version conflict undoes only its own step. Reads use a
second connection (aiosqlite): WAL gives it a committed snapshot per statement, so a
read never sees a batch that is still open (and might yet be rolled back).

The store is composed of one part per concern: the connections (database.py),
conversations, steps, the inbox and the transcript (conversations.py), the outbox and
dead letters (outbox.py), timers (timers.py), evaluation and retention (evaluation.py),
adapter state (adapter_state.py).
This module opens and closes it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from handover.store.base import Store
from handover.store.contract import StoreError
from handover.store.migrate import (
    apply_migrations,
    check_not_too_new,
    load_migrations,
    recorded_version,
)
from handover.store.sqlite.adapter_state import SQLiteAdapterState
from handover.store.sqlite.conversations import SQLiteConversations
from handover.store.sqlite.evaluation import SQLiteEvaluation
from handover.store.sqlite.outbox import SQLiteOutbox
from handover.store.sqlite.rows import to_ts
from handover.store.sqlite.timers import SQLiteTimers
from handover.store.sqlite.writer import GroupCommitWriter

MIGRATIONS_PACKAGE = "handover.store.migrations.sqlite"
BATCH_MAX = 256


class SQLiteStore(
    SQLiteConversations, SQLiteOutbox, SQLiteTimers, SQLiteEvaluation, SQLiteAdapterState, Store
):
    """The embedded store engine (see the module docstring for the write path).

    Construct it with the database file's path and an optional `clock` (see
    `SQLiteDatabase`); nothing is touched before `open`.
    """

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._jobs is not None:
            return
        if self._path in ("", ":memory:"):
            # The reader and the writer are two connections and must see one file.
            raise StoreError("the SQLite store needs a file path, not an in-memory database")
        try:
            create_private_file(Path(self._path))
        except OSError as exc:
            raise StoreError(f"cannot create {self._path}: {exc.strerror or exc}") from exc
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

    async def close(self) -> None:
        jobs, self._jobs = self._jobs, None
        if jobs is not None:
            await jobs.stop()  # queued commits finish first
        await self._close_connections()

    async def schema_version(self) -> int:
        row = await self._one("SELECT MAX(version) FROM schema_migrations")
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def ping(self) -> None:
        if self._jobs is None or not self._jobs.alive:
            raise StoreError("the SQLite store is not open")
        await self._one("SELECT 1")


def create_private_file(path: Path) -> None:
    """Create the database file (and missing directories) readable by its owner only.

    The file holds citizens' messages and contact details. SQLite would create it with
    the process umask (0644 is common), and gives its -wal and -shm files the database
    file's permissions, so creating it 0600 first covers all three. Directories made
    here are 0700; an existing file or directory is left as the operator set it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
