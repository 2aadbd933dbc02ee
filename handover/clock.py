"""Injected time, so timeouts and backoff are testable without sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time for records and schedules; `sleep` for waiting."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock (UTC, timezone-aware)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that moves only when told; sleepers wake when time passes them."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward and wake everyone whose sleep has passed."""
        self._now += timedelta(seconds=seconds)
        keep = []
        for due, fut in self._sleepers:
            if due <= self._now:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((due, fut))
        self._sleepers = keep


async def wait_for_wake(wake: asyncio.Event, clock: Clock, timeout: float) -> None:
    """Return when `wake` is set or `timeout` seconds of `clock` time have passed.

    Background loops use it so that new work wakes them at once while a fake clock
    still controls their polling in tests.
    """
    if wake.is_set():
        return
    waiter = asyncio.create_task(wake.wait())
    sleeper = asyncio.create_task(clock.sleep(timeout))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()
