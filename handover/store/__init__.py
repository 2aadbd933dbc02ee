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
) -> Store:
    """Build an (unopened) store; the caller awaits `open()` before use.

    `clock` stamps the times the store records by itself (defaults to the system clock).
    """
    if engine == "sqlite":
        if not path:
            raise StoreError("the sqlite engine needs a database path")
        # Imported here so that importing the contract does not load aiosqlite.
        from handover.store.sqlite import SQLiteStore

        return SQLiteStore(path, clock=clock)
    if engine == "postgres":
        raise StoreError("the postgres engine is not installed yet")
    raise StoreError(f"unknown store engine {engine!r} (expected 'sqlite' or 'postgres')")
