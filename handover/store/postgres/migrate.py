"""Numbered SQL migrations for the PostgreSQL engine.

The files are package data (handover.store.migrations.postgres, ``NNNN_name.sql``),
loaded and checked by the same code as the SQLite ones (`migrate.load_migrations`).
Each pending file runs in its own transaction together with the row that records it.
The whole run holds a session-level advisory lock, so several daemons starting at once
(or a `handover migrate` next to a starting daemon) wait for each other and apply each
file exactly once: a waiter re-reads the recorded version once it has the lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from handover.store.base import StoreError
from handover.store.migrate import Migration, check_not_too_new

MIGRATIONS_PACKAGE = "handover.store.migrations.postgres"

# Any fixed 64-bit number: the advisory lock that serialises migrations of one database.
MIGRATION_LOCK = 0x68616E646F766572  # "handover"

_CREATE_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, applied_at timestamptz NOT NULL)"
)


async def recorded_version(conn: Any) -> int:
    """The highest version recorded in the database (0 for a fresh one). Read-only."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    version = await conn.fetchval("SELECT MAX(version) FROM schema_migrations")
    return int(version) if version is not None else 0


def pending(version: int, migrations: list[Migration]) -> list[Migration]:
    """The shipped migrations a database at `version` still needs."""
    check_not_too_new(version, migrations)
    return [m for m in migrations if m.version > version]


async def apply_migrations(
    conn: Any, migrations: list[Migration], now: datetime
) -> list[Migration]:
    """Apply pending migrations on one connection; returns those this call applied.

    Raises SchemaTooNew (nothing written) for a database newer than `migrations`, and
    StoreError naming the file when one fails (that file is rolled back whole).
    """
    applied: list[Migration] = []
    # A session lock around the whole run, not one per transaction: with a lock per
    # file, a second instance could read "nothing recorded" before the first had
    # committed its first file, then run the same CREATE TABLEs and fail.
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        # Re-read under the lock: another instance may have just applied them.
        todo = pending(await recorded_version(conn), migrations)
        for migration in todo:
            try:
                async with conn.transaction():
                    await conn.execute(_CREATE_VERSIONS)
                    # No arguments: asyncpg sends the file as one simple-protocol script.
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                        migration.version,
                        now,
                    )
            except asyncpg.PostgresError as exc:
                raise StoreError(f"migration {migration.name} failed: {exc}") from exc
            applied.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied
