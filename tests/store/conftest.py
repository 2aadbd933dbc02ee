"""Fixtures for the store contract tests, parametrised over the engines.

Every test that takes `store` (or `store_factory`) runs once per engine in ENGINES.
To add an engine, append its name to ENGINES and teach `StoreFactory.open` how to
build it; engine-specific tests live in their own modules (e.g. test_sqlite.py).
Engines must honour the injected clock: tests use a fake clock, far from real time.

PostgreSQL: one throwaway cluster per test session (tests/pgserver.py, started only
when a postgres test runs) and an emptied migrated
database per contract test (see emptied_database). Where no server can be had
the postgres tests are skipped with the reason; with HANDOVER_REQUIRE_POSTGRES=1 (as
.ci/run sets) they fail instead, so CI cannot pass without testing the engine.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from handover.clock import FakeClock
from handover.store import Store, create_store
from tests.pgserver import PgServer

ENGINES = ["sqlite", "postgres"]

_database_numbers = itertools.count(1)


async def fresh_database(server: PgServer) -> str:
    """An empty database for one test: a DSN whose search_path is a new schema.

    A schema, not a CREATE DATABASE: copying even template0 takes about half a second
    on this machine, a schema a millisecond, and every table, index and sequence the
    store makes lands in it (asyncpg passes unknown DSN parameters as settings).
    """
    name = f"test_{next(_database_numbers)}"
    conn = await asyncpg.connect(server.dsn())
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await conn.close()
    return f"{server.dsn()}?search_path={name}"


@pytest.fixture
async def pg_dsn(pg_server: PgServer) -> str:
    """A DSN on an empty, unmigrated database of its own (for migration tests)."""
    return await fresh_database(pg_server)


# Children before parents (foreign keys).
_STORE_TABLES = (
    "adapter_state", "connection_leases", "transcript", "inbox", "outbox", "dead_letters",
    "timers", "survey_answers", "handover_events", "conversations",
)
_shared: dict[str, str] = {}


async def emptied_database(server: PgServer) -> str:
    """A migrated database with no rows, shared by the contract tests one at a time.

    Migrating a fresh schema costs a few tenths of a second per test on a loaded
    machine; emptying the tables of one migrated schema costs a few milliseconds and
    leaves the same state (ids go on from where the previous test left them).
    """
    dsn = _shared.get(server.dsn())
    if dsn is None:
        dsn = _shared[server.dsn()] = await fresh_database(server)
        return dsn  # the first store opened on it migrates it
    conn = await asyncpg.connect(dsn)
    try:
        # DELETE, not TRUNCATE: on these few rows it is forty times faster.
        await conn.execute("; ".join(f"DELETE FROM {table}" for table in _STORE_TABLES))
    finally:
        await conn.close()
    return dsn


@dataclass
class StoreFactory:
    """Opens stores of one engine on one database, so a test can close and reopen."""

    engine: str
    tmp_path: Path
    clock: FakeClock
    pg_dsn: str = ""
    opened: list[Store] = field(default_factory=list)

    @property
    def sqlite_path(self) -> Path:
        return self.tmp_path / "handover.db"

    async def open(self) -> Store:
        if self.engine == "sqlite":
            store = create_store("sqlite", path=str(self.sqlite_path), clock=self.clock)
        elif self.engine == "postgres":
            store = create_store("postgres", dsn=self.pg_dsn, clock=self.clock)
        else:  # pragma: no cover - engines are added to ENGINES one by one
            raise AssertionError(f"no fixture for engine {self.engine}")
        await store.open()
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=ENGINES)
async def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StoreFactory]:
    factory = StoreFactory(request.param, tmp_path, clock)
    if factory.engine == "postgres":
        # Asked for here, not as a parameter, so SQLite-only runs never start a server.
        factory.pg_dsn = await emptied_database(request.getfixturevalue("pg_server"))
    yield factory
    await factory.close_all()


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    return await store_factory.open()
