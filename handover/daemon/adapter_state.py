"""`AdapterContext.state` on the daemon's store (implements sdk.state.AdapterState)."""

from __future__ import annotations

from datetime import timedelta

from handover.clock import Clock
from handover.sdk.state import StateRecord, StateValue
from handover.store import Store

#: Expired records deleted per housekeeping statement (each is one short transaction).
PURGE_BATCH = 1000


class StoreAdapterState:
    """The records of one adapter instance (`namespace`, its name) in the store; times
    from the daemon's clock, so tests that move time move expiry too."""

    def __init__(self, store: Store, namespace: str, clock: Clock) -> None:
        self._store = store
        self._namespace = namespace
        self._clock = clock

    async def get(self, key: str) -> StateRecord | None:
        return await self._store.state_get(self._namespace, key, self._clock.now())

    async def put(
        self,
        key: str,
        value: StateValue,
        *,
        expect_version: int | None = None,
        ttl_seconds: float | None = None,
        conversation_id: str | None = None,
    ) -> int | None:
        now = self._clock.now()
        expires_at = now + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        return await self._store.state_put(
            self._namespace, key, value, now=now, expect_version=expect_version,
            expires_at=expires_at, conversation_id=conversation_id,
        )  # fmt: skip

    async def delete(self, key: str, *, expect_version: int | None = None) -> bool:
        return await self._store.state_delete(
            self._namespace, key, now=self._clock.now(), expect_version=expect_version
        )

    async def scan(self, prefix: str, *, limit: int = 1000) -> list[tuple[str, StateRecord]]:
        return await self._store.state_scan(
            self._namespace, prefix, now=self._clock.now(), limit=limit
        )


async def purge_expired_state(store: Store, clock: Clock) -> int:
    """Delete every expired adapter state record, in batches; returns how many."""
    total = 0
    while True:
        purged = await store.purge_expired_state(clock.now(), PURGE_BATCH)
        total += purged
        if purged < PURGE_BATCH:
            return total
