"""Adapter state (`AdapterContext.state`) on every store engine: versions,
compare-and-set races, expiry, prefix scans, namespaces, erasure and retention.

The daemon's `StoreAdapterState` is what adapters get; it is tested here on the real
engines, and the kit's in-memory `MemoryState` against the same expectations.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from handover.clock import FakeClock
from handover.daemon.adapter_state import StoreAdapterState, purge_expired_state
from handover.sdk.state import AdapterState, StateRecord
from handover.sdk.testing import MemoryState
from handover.store import Store

from .conftest import StoreFactory
from .test_retention import full
from .test_store import conversation


def states(store: Store, clock: FakeClock, name: str = "console") -> StoreAdapterState:
    return StoreAdapterState(store, name, clock)


async def test_put_get_versions_and_delete(store: Store, clock: FakeClock) -> None:
    state = states(store, clock)
    assert await state.get("thread:1") is None
    assert await state.put("thread:1", {"a": 1, "text": "één"}) == 1
    assert await state.get("thread:1") == StateRecord({"a": 1, "text": "één"}, 1, None)
    assert await state.put("thread:1", {"a": 2}) == 2
    assert await state.put("thread:1", {"a": 3}, expect_version=2) == 3
    assert await state.put("thread:1", {"a": 4}, expect_version=2) is None  # stale
    assert await state.put("thread:1", {"a": 5}, expect_version=0) is None  # exists
    record = await state.get("thread:1")
    assert record is not None and (record.value, record.version) == ({"a": 3}, 3)
    assert await state.delete("thread:1", expect_version=2) is False
    assert await state.delete("thread:1", expect_version=3) is True
    assert await state.get("thread:1") is None
    assert await state.delete("thread:1") is False
    assert await state.put("thread:1", {"a": 6}, expect_version=1) is None  # absent
    assert await state.put("thread:1", {"a": 6}, expect_version=0) == 1


async def test_records_are_namespaced_per_adapter_instance(store: Store, clock: FakeClock) -> None:
    a, b = states(store, clock, "console"), states(store, clock, "console2")
    await a.put("k", {"who": "a"})
    assert await b.get("k") is None and await b.scan("") == []
    assert await b.put("k", {"who": "b"}, expect_version=0) == 1
    assert (await a.get("k")) == StateRecord({"who": "a"}, 1, None)


@pytest.mark.parametrize("expect", [0, 4])
async def test_concurrent_compare_and_set_has_exactly_one_winner(
    store_factory: StoreFactory, clock: FakeClock, expect: int
) -> None:
    # Two stores on one database play two daemon instances racing for one pick-up.
    one, two = await store_factory.open(), await store_factory.open()
    if expect:
        for n in range(expect):
            await states(one, clock).put("claim", {"agent": None, "n": n})
    contenders = [states(s, clock) for s in (one, two) for _ in range(4)]
    results = await asyncio.gather(*(
        c.put("claim", {"agent": f"agent-{i}"}, expect_version=expect)
        for i, c in enumerate(contenders)
    ))  # fmt: skip
    winners = [i for i, version in enumerate(results) if version is not None]
    assert len(winners) == 1, results
    assert results[winners[0]] == expect + 1
    record = await states(two, clock).get("claim")
    assert record is not None and record.value == {"agent": f"agent-{winners[0]}"}


async def test_expired_records_read_as_absent_and_are_purged(
    store: Store, clock: FakeClock
) -> None:
    state = states(store, clock)
    assert await state.put("online:sanne", {"at": 1}, ttl_seconds=15) == 1
    record = await state.get("online:sanne")
    assert record is not None and record.expires_at == clock.now() + timedelta(seconds=15)
    await state.put("permanent", {"x": 1})
    clock.advance(14)
    assert await state.scan("online:") != []
    # Renewing moves the expiry on.
    assert await state.put("online:sanne", {"at": 2}, expect_version=1, ttl_seconds=15) == 2
    clock.advance(14)
    assert await state.get("online:sanne") is not None
    clock.advance(1)
    assert await state.get("online:sanne") is None
    assert await state.scan("online:") == []
    # Expired is absent: a CAS on the old version fails, a create succeeds, and the
    # version goes on so the old holder cannot take the new record for its own.
    assert await state.put("online:sanne", {"at": 3}, expect_version=2) is None
    assert await state.delete("online:sanne", expect_version=2) is False
    assert await state.put("online:sanne", {"at": 3}, expect_version=0, ttl_seconds=1) == 3
    clock.advance(2)
    assert await purge_expired_state(store, clock) == 1
    assert await state.get("permanent") is not None
    assert await store.purge_expired_state(clock.now(), 10) == 0


async def test_scan_by_prefix_in_key_order_with_a_limit(store: Store, clock: FakeClock) -> None:
    state = states(store, clock)
    for key in ["t:b", "t:a", "t:ä", "t:B", "t", "u:a", "s:z", "t:%", "t_x"]:
        await state.put(key, {"k": key})
    await state.put("t:gone", {"k": "gone"}, ttl_seconds=1)
    clock.advance(2)
    found = await state.scan("t:")
    # Code point order, whatever the database's collation; LIKE wildcards are text.
    assert [k for k, _ in found] == ["t:%", "t:B", "t:a", "t:b", "t:ä"]
    assert found[0][1] == StateRecord({"k": "t:%"}, 1, None)
    assert [k for k, _ in await state.scan("t:", limit=2)] == ["t:%", "t:B"]
    assert [k for k, _ in await state.scan("t_")] == ["t_x"]
    assert len(await state.scan("")) == 9


async def test_erasure_deletes_the_records_of_the_conversation(
    store: Store, clock: FakeClock
) -> None:
    await store.resolve_conversation(conversation("c1"))
    await store.resolve_conversation(conversation("c2"))
    state = states(store, clock)
    await state.put("thread:c1", {"name": "Jan"}, conversation_id="c1")
    await state.put("thread:c2", {"name": "Piet"}, conversation_id="c2")
    await state.put("desk-wide", {"x": 1})
    assert await store.erase_conversation("c1") is True
    assert await state.get("thread:c1") is None
    assert await state.get("thread:c2") is not None and await state.get("desk-wide") is not None


async def test_retention_deletes_the_records_of_purged_conversations(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "old")
    state = states(store, clock)
    await state.put("thread:old", {"name": "Jan"}, conversation_id="old")
    await state.put("note:old", {"text": "x"}, conversation_id="old")
    clock.advance(86400)
    assert await store.purge_bodies("tenant-a", clock.now(), clock.now(), 10) == 1
    assert await state.scan("") == []
    await state.put("thread:old", {"name": "again"}, conversation_id="old")
    assert await store.purge_metadata("tenant-a", clock.now() + timedelta(days=1), 10) == 1
    assert await state.scan("") == []


async def test_memory_state_keeps_the_same_rules(clock: FakeClock) -> None:
    memory: AdapterState = MemoryState(clock)
    assert await memory.put("k", {"a": 1}, expect_version=0) == 1
    assert await memory.put("k", {"a": 2}, expect_version=0) is None
    assert await memory.put("k", {"a": 2}, expect_version=1, ttl_seconds=5) == 2
    assert [k for k, _ in await memory.scan("")] == ["k"]
    clock.advance(5)
    assert await memory.get("k") is None
    assert await memory.put("k", {"a": 3}, expect_version=0, conversation_id="c1") == 3
    assert await memory.delete("k", expect_version=2) is False
    assert isinstance(memory, MemoryState) and memory.erase_conversation("c1") == 1
    assert await memory.get("k") is None
