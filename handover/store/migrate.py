"""Numbered SQL migrations for the SQLite engine.

Migrations are package data named ``NNNN_description.sql``. Each pending file runs in
its own transaction together with the row that records it in ``schema_migrations``, so
a crash leaves the database at a whole version, never between two.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

import aiosqlite

from handover.store.base import SchemaTooNew, StoreError

_FILE_NAME = re.compile(r"(\d+)_([A-Za-z0-9_-]+)\.sql")

_CREATE_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One shipped migration file."""

    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def load_migrations(package: str) -> list[Migration]:
    """Read the migration files of `package`, in version order."""
    found: dict[int, Migration] = {}
    for entry in resources.files(package).iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations with version {version} in {package}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    versions = sorted(found)
    # A gap means a file went missing from the package; applying around it would
    # record a version whose predecessors never ran.
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f"migrations in {package} are not numbered 1..n: {versions}")
    return [found[v] for v in versions]


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (trigger bodies and comments are handled).

    The statements must run one by one through `execute` because `executescript`
    commits any open transaction first, which would break one-transaction migrations.
    """
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    rest = "\n".join(
        ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")
    )
    if rest:
        raise StoreError(f"incomplete SQL statement at the end of a migration: {rest[:80]!r}")
    return statements


async def recorded_version(conn: aiosqlite.Connection) -> int:
    """The highest version recorded in the database (0 for a fresh one). Read-only."""
    cursor = await conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    )
    if await cursor.fetchone() is None:
        return 0
    cursor = await conn.execute("SELECT MAX(version) FROM schema_migrations")
    row = await cursor.fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def check_not_too_new(version: int, migrations: list[Migration]) -> None:
    """Raise SchemaTooNew when the database was migrated past what we ship."""
    shipped = migrations[-1].version if migrations else 0
    if version > shipped:
        raise SchemaTooNew(
            f"the database has schema version {version} but this daemon only knows "
            f"versions up to {shipped}; it was migrated by a newer release. Run that "
            "release (or restore a backup) instead; the database was not modified."
        )


async def apply_migrations(
    conn: aiosqlite.Connection, migrations: list[Migration], now: float
) -> int:
    """Apply pending migrations on a connection in autocommit mode; returns the version.

    The version is re-read under the write lock so two daemons starting at once do not
    both apply the same file.
    """
    current = 0
    for migration in migrations:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            current = await recorded_version(conn)
            check_not_too_new(current, migrations)
            if migration.version <= current:
                await conn.execute("ROLLBACK")
                continue
            await conn.execute(_CREATE_VERSIONS)
            for statement in migration.statements():
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (migration.version, now),
            )
            await conn.execute("COMMIT")
            current = migration.version
        except BaseException as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"migration {migration.name} failed: {exc}") from exc
            raise
    return current
