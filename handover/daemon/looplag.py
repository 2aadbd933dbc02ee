"""Event-loop lag: how late the loop runs a callback that was due.

Everything in the daemon shares one event loop; a blocking call (a slow JSON dump, a
synchronous DNS lookup, a CPU-heavy regex) delays every conversation at once. The
monitor asks for a wake-up after `interval` seconds and records how much later than
that it actually woke, into `handover_event_loop_lag_seconds`.
"""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Histogram

from handover import metrics

log = structlog.get_logger("handover.daemon.looplag")


def _wake(fut: asyncio.Future[None]) -> None:
    # Both the timer and stop() may resolve the future; whoever comes second is a no-op.
    if not fut.done():
        fut.set_result(None)


class LoopLagMonitor:
    """Measures event-loop lag in the background: `await run()`, later `stop()`.

    `last_lag` is the most recent measurement in seconds (0.0 before the first). A lag
    of `warn_after` seconds or more is also logged as `loop.lag_high`, since a stalled
    loop is otherwise only visible afterwards in a histogram.
    """

    def __init__(
        self,
        *,
        histogram: Histogram = metrics.EVENT_LOOP_LAG,
        warn_after: float = 1.0,
    ) -> None:
        self.last_lag: float = 0.0
        self._histogram = histogram
        self._warn_after = warn_after
        self._stopped = False
        self._sleeper: asyncio.Future[None] | None = None

    async def run(self, interval: float = 0.5) -> None:
        """Measure every `interval` seconds until `stop()` (or cancellation)."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        loop = asyncio.get_running_loop()
        while not self._stopped:
            # A bare future plus call_later rather than asyncio.sleep, so stop() can
            # end the wait at once instead of leaving the task to be cancelled.
            fut: asyncio.Future[None] = loop.create_future()
            self._sleeper = fut
            started = loop.time()
            handle = loop.call_later(interval, _wake, fut)
            try:
                await fut
            finally:
                handle.cancel()
                self._sleeper = None
            if self._stopped:
                break  # woken by stop(), not by the timer: nothing to measure
            # The loop may run a timer a hair early (clock resolution); that is no lag.
            lag = max(0.0, loop.time() - started - interval)
            self.last_lag = lag
            self._histogram.observe(lag)
            if lag >= self._warn_after:
                log.warning("loop.lag_high", lag_seconds=round(lag, 3))

    def stop(self) -> None:
        """Make `run()` return; a stopped monitor stays stopped."""
        self._stopped = True
        if self._sleeper is not None:
            _wake(self._sleeper)
