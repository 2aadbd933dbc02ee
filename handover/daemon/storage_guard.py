"""The storage guard: refuse new conversations before the store's volume fills.

A flood of new conversations (or plain growth) would otherwise fill the disk, and then
every channel fails at once, existing conversations included. The guard refuses only
what adds a conversation, with a clear answer (`StorageFull`: 503 `storage_full` with
Retry-After on the HTTP channels), raises `handover_storage_guard_refusing` (alerted
on), and lets every existing conversation go on.

Two limits from `[store]`, either may be off (0):
- `max_conversations`: a ceiling on the conversations held (counted in the store);
- `min_free_bytes`: the free space left on the SQLite database's volume.

The numbers are read at most every `REFRESH_SECONDS` (a count over the conversations
is not a per-request query); between two reads the conversations this instance creates
are added to the last count, so only what other instances create meanwhile can
overshoot the ceiling.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from handover import metrics
from handover.config.model import StoreConfig
from handover.store.base import Store

log = structlog.get_logger("handover.daemon.storage_guard")

#: How often the guard reads the count and the free space again.
REFRESH_SECONDS = 5.0
#: What a refused client is told to wait (seconds).
RETRY_AFTER_SECONDS = 60


def free_bytes_of(path: str) -> int | None:
    """Free bytes on the volume holding `path` (its nearest existing parent)."""
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        return shutil.disk_usage(where).free
    except OSError:
        return None


class StorageGuard:
    """Decides whether a new conversation may be stored now (see the module docstring).

    `free_bytes` and `monotonic` are injectable for tests.
    """

    def __init__(
        self, store: Store, config: StoreConfig, *,
        free_bytes: Callable[[str], int | None] = free_bytes_of,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._max = config.max_conversations
        # Free space means something only for a file on this machine.
        self._min_free = config.min_free_bytes if config.engine == "sqlite" else 0
        self._path = config.path
        self._free_bytes = free_bytes
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._count = 0
        self._free: int | None = None
        self.reason: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._max or (self._min_free and self._path != ":memory:"))

    async def allows_new(self) -> bool:
        """Whether a new conversation may be stored now. Never raises: when the numbers
        cannot be read, the last ones stand (and none at first: allowed)."""
        if not self.enabled:
            return True
        now = self._monotonic()
        if self._read_at is None or now - self._read_at >= REFRESH_SECONDS:
            self._read_at = now
            await self._refresh()
        reason = self._reason()
        if reason != self.reason:
            if reason is None:
                log.info("daemon.storage_guard_accepting")
            else:
                log.warning("daemon.storage_guard_refusing", reason=reason,
                            conversations=self._count, free_bytes=self._free)
            self.reason = reason
            metrics.STORAGE_GUARD.set(0 if reason is None else 1)
        return reason is None

    def created(self) -> None:
        """A new conversation was stored (counted until the next read)."""
        self._count += 1

    async def _refresh(self) -> None:
        if self._max:
            try:
                self._count = await self._store.count_conversations()
            except Exception:
                log.warning("daemon.storage_guard_count_failed", exc_info=True)
        if self._min_free and self._path != ":memory:":
            self._free = self._free_bytes(self._path)
            if self._free is not None:
                metrics.STORAGE_FREE_BYTES.set(self._free)

    def _reason(self) -> str | None:
        if self._max and self._count >= self._max:
            return "max_conversations"
        if self._min_free and self._free is not None and self._free < self._min_free:
            return "min_free_bytes"
        return None
