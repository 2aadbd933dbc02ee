"""Durable state: the `Store` contract and a factory for its engines."""

from __future__ import annotations

from handover.clock import Clock
from handover.store.base import (
    CommitResult,
    SchemaTooNew,
    Step,
    Store,
    StoreError,
    VersionConflict,
)

__all__ = [
    "CommitResult",
    "SchemaTooNew",
    "Step",
    "Store",
    "StoreError",
    "VersionConflict",
    "create_store",
]


def create_store(
    engine: str,
    *,
    path: str | None = None,
    dsn: str | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
) -> Store:
    """Build an (unopened) store; the caller awaits `open()` before use.

    `clock` stamps the times the store records by itself (defaults to the system clock).
    `migrate=False` (PostgreSQL only) makes `open()` refuse a database with pending
    migrations instead of applying them; SQLite always migrates at open.
    """
    if engine == "sqlite":
        if not path:
            raise StoreError("the sqlite engine needs a database path")
        # Imported here so that importing the contract does not load aiosqlite.
        from handover.store.sqlite.store import SQLiteStore

        return SQLiteStore(path, clock=clock)
    if engine == "postgres":
        if not dsn:
            raise StoreError("the postgres engine needs a dsn (postgresql://...)")
        # Imported here so that the SQLite-only daemon never loads asyncpg.
        from handover.store.postgres.store import PostgresStore

        return PostgresStore(dsn, clock=clock, migrate=migrate)
    raise StoreError(f"unknown store engine {engine!r} (expected 'sqlite' or 'postgres')")
