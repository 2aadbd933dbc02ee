"""Fixtures for the store contract tests, parametrised over the engines.

Every test that takes `store` (or `store_factory`) runs once per engine in ENGINES.
To add an engine, append its name to ENGINES and teach `StoreFactory.open` how to
build it; engine-specific tests live in their own modules (e.g. test_sqlite.py).
Engines must honour the injected clock: tests use a fake clock, far from real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from handover.clock import FakeClock
from handover.store import Store, create_store

# "postgres" joins here once its engine exists.
ENGINES = ["sqlite"]


@dataclass
class StoreFactory:
    """Opens stores of one engine on one database, so a test can close and reopen."""

    engine: str
    tmp_path: Path
    clock: FakeClock
    opened: list[Store] = field(default_factory=list)

    @property
    def sqlite_path(self) -> Path:
        return self.tmp_path / "handover.db"

    async def open(self) -> Store:
        if self.engine == "sqlite":
            store = create_store("sqlite", path=str(self.sqlite_path), clock=self.clock)
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
    yield factory
    await factory.close_all()


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    return await store_factory.open()
