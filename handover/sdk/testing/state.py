"""Adapter state in memory: `FakeContext.state` (the `AdapterState` protocol).

It keeps the store's rules (versions, compare-and-set, expiry by the context's clock,
prefix scans in code point order), so an adapter tested against it behaves the same on
the daemon's store. Two FakeContexts may share one (`ctx_b.state = ctx_a.state`) to play
two daemon instances on one database.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from handover.sdk.clock import Clock
from handover.sdk.state import StateRecord, StateValue


@dataclass(slots=True)
class _Row:
    value: StateValue
    version: int
    expires_at: datetime | None
    conversation_id: str | None


class MemoryState:
    """The records of one adapter instance, in a dict (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._rows: dict[str, _Row] = {}

    def _live(self, key: str) -> _Row | None:
        row = self._rows.get(key)
        if row is None or (row.expires_at is not None and row.expires_at <= self._clock.now()):
            return None
        return row

    async def get(self, key: str) -> StateRecord | None:
        row = self._live(key)
        return _record(row) if row is not None else None

    async def put(
        self,
        key: str,
        value: StateValue,
        *,
        expect_version: int | None = None,
        ttl_seconds: float | None = None,
        conversation_id: str | None = None,
    ) -> int | None:
        live = self._live(key)
        if expect_version is not None and expect_version != (live.version if live else 0):
            return None
        # Like the store: the value must be JSON, and is kept as a copy.
        stored = json.loads(json.dumps(value))
        old = self._rows.get(key)
        version = (old.version if old is not None else 0) + 1
        now = self._clock.now()
        until = now + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        self._rows[key] = _Row(stored, version, until, conversation_id)
        return version

    async def delete(self, key: str, *, expect_version: int | None = None) -> bool:
        live = self._live(key)
        if expect_version is not None and (live is None or live.version != expect_version):
            return False
        self._rows.pop(key, None)
        return live is not None

    async def scan(self, prefix: str, *, limit: int = 1000) -> list[tuple[str, StateRecord]]:
        found = []
        for key in sorted(k for k in self._rows if k.startswith(prefix)):
            row = self._live(key)
            if row is not None:
                found.append((key, _record(row)))
            if len(found) >= limit:
                break
        return found

    def erase_conversation(self, conversation_id: str) -> int:
        """Delete the records naming `conversation_id` (what the store's erasure and
        retention do); returns how many."""
        keys = [k for k, row in self._rows.items() if row.conversation_id == conversation_id]
        for key in keys:
            del self._rows[key]
        return len(keys)


def _record(row: _Row) -> StateRecord:
    return StateRecord(copy.deepcopy(row.value), row.version, row.expires_at)
