"""Behaviour of the PostgreSQL engine beyond the shared contract: migration modes."""

from __future__ import annotations

import pytest

from handover.clock import FakeClock
from handover.store import StoreError, create_store


async def test_manual_mode_refuses_pending_migrations_until_they_are_applied(
    pg_dsn: str, clock: FakeClock
) -> None:
    manual = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=False)
    with pytest.raises(StoreError, match="handover migrate"):
        await manual.open()

    # What `handover migrate` does: open with migrations applied.
    migrating = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=True)
    await migrating.open()
    version = await migrating.schema_version()
    await migrating.close()
    assert version >= 1

    manual = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=False)
    await manual.open()
    try:
        assert await manual.schema_version() == version
    finally:
        await manual.close()
