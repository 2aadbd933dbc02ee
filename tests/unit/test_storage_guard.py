"""The storage guard: new conversations are refused before the volume fills."""

from __future__ import annotations

from pathlib import Path

from handover.config.model import StoreConfig
from handover.daemon.storage_guard import REFRESH_SECONDS, StorageGuard, free_bytes_of
from handover.metrics import REGISTRY
from handover.store.sqlite.store import SQLiteStore


async def test_free_space_threshold_refuses_and_recovers(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "h.db")
    await store.open()
    try:
        free = [10_000]
        now = [0.0]
        config = StoreConfig(path=str(tmp_path / "h.db"), min_free_bytes=5_000)
        guard = StorageGuard(store, config, free_bytes=lambda _p: free[0],
                             monotonic=lambda: now[0])
        assert await guard.allows_new()
        free[0] = 4_000
        assert await guard.allows_new()  # not read again yet
        now[0] += REFRESH_SECONDS
        assert not await guard.allows_new() and guard.reason == "min_free_bytes"
        assert REGISTRY.get_sample_value("handover_storage_guard_refusing") == 1.0
        free[0] = 50_000
        now[0] += REFRESH_SECONDS
        assert await guard.allows_new() and guard.reason is None
        assert REGISTRY.get_sample_value("handover_storage_guard_refusing") == 0.0
    finally:
        await store.close()


async def test_ceiling_counts_what_this_instance_creates_between_reads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "h.db")
    await store.open()
    try:
        guard = StorageGuard(store, StoreConfig(max_conversations=2, min_free_bytes=0),
                             monotonic=lambda: 0.0)
        assert await guard.allows_new()
        guard.created()
        assert await guard.allows_new()
        guard.created()
        assert not await guard.allows_new() and guard.reason == "max_conversations"
    finally:
        await store.close()


def test_off_by_default_for_postgres_free_space_and_reads_a_missing_path(tmp_path: Path) -> None:
    guard = StorageGuard(None, StoreConfig(engine="postgres", dsn="postgresql://x/y"))  # type: ignore[arg-type]
    assert not guard.enabled
    assert (free_bytes_of(str(tmp_path / "not" / "yet" / "h.db")) or 0) > 0
