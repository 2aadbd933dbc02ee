"""Adapter state: durable key/value records that adapters keep through their context."""

from __future__ import annotations

import abc
from datetime import datetime

from handover.sdk.state import StateRecord, StateValue


class AdapterStateStore(abc.ABC):
    """The records behind `AdapterContext.state` (handover/sdk/state.py says what an
    adapter may rely on). `namespace` is the adapter instance's name; `now` is the
    caller's clock, so a record is live while `expires_at` is None or later than `now`.

    Called by the daemon's context for adapters, and `purge_expired_state` by its
    housekeeping. All raise StoreError; a call that raised wrote nothing.
    """

    @abc.abstractmethod
    async def state_get(self, namespace: str, key: str, now: datetime) -> StateRecord | None:
        """The live record under (`namespace`, `key`), or None."""

    @abc.abstractmethod
    async def state_put(
        self,
        namespace: str,
        key: str,
        value: StateValue,
        *,
        now: datetime,
        expect_version: int | None = None,
        expires_at: datetime | None = None,
        conversation_id: str | None = None,
    ) -> int | None:
        """Write a record atomically; the new version, or None when `expect_version`
        did not hold (None: unconditional; 0: no live record; n: a live record of
        version n). An expired record counts as absent, but its version goes on
        (replacing it gives old version + 1), so a writer holding a version from before
        the expiry cannot mistake the new record for its own."""

    @abc.abstractmethod
    async def state_delete(
        self, namespace: str, key: str, *, now: datetime, expect_version: int | None = None
    ) -> bool:
        """Delete the record (with `expect_version`: only a live one of that version);
        True when a live record was deleted."""

    @abc.abstractmethod
    async def state_scan(
        self, namespace: str, prefix: str, *, now: datetime, limit: int
    ) -> list[tuple[str, StateRecord]]:
        """Up to `limit` live records of `namespace` whose key starts with `prefix`,
        ordered by key (code point order)."""

    @abc.abstractmethod
    async def purge_expired_state(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` records that expired before `now`; returns how many.
        Called in a loop by the daemon's housekeeping until it returns less than
        `limit`; each call is one short transaction."""
