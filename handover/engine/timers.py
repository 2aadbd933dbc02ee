"""The timer worker: turns due durable timers into TimerFired events."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from handover import events as ev
from handover.clock import wait_for_wake
from handover.engine.crashpoints import crash_point
from handover.engine.router import Router
from handover.sdk.errors import UnknownConversation

log = structlog.get_logger("handover.engine.timers")


class TimerWorker:
    """Polls the store for due timers; the router decides whether each still matters."""

    def __init__(self, router: Router, clock: Any, poll_seconds: float = 1.0) -> None:
        self.router = router
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self.fire_due()
            await self._wait()

    async def fire_due(self) -> int:
        """Fire every timer that is due now; returns how many events were ingested."""
        fired = 0
        for timer in await self.router.store.due_timers(self.clock.now()):
            event = ev.TimerFired(
                conversation_id=timer.conversation_id,
                source="timer",
                source_id=f"{timer.name}:{timer.epoch}:{timer.due_at.isoformat()}",
                name=timer.name,
                epoch=timer.epoch,
            )
            crash_point("timers.before_fire")
            try:
                await self.router.ingest(event)
                fired += 1
            except UnknownConversation:
                pass
            except Exception:
                log.exception("timers.fire_failed", conversation_id=timer.conversation_id)
        return fired

    async def _wait(self) -> None:
        timeout = self.poll_seconds
        nxt = await self.router.store.next_timer()
        if nxt is not None:
            timeout = max(0.0, min(timeout, (nxt - self.clock.now()).total_seconds()))
        await wait_for_wake(self._wake, self.clock, timeout)
