"""Background loops that are restarted when they die.

The daemon's loops (outbox worker, timers, connection leases, loop lag, housekeeping)
run for the life of the process. A loop that raises would otherwise leave the daemon
alive but deaf: no deliveries, no timers, until someone restarts it by hand. So a
dying loop is logged, shown on the health board as a `core` entry (which fails
/readyz with `core_loop_down` while it is down) and started again after a capped
exponential backoff, so that a store outage is not hammered by instant restarts.

A loop that returns normally has been told to stop and is not restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from handover import metrics
from handover.clock import Clock
from handover.daemon.health import HealthBoard
from handover.http.ops import CORE_KIND
from handover.sdk.contracts import Health
from handover.sdk.retry import backoff_seconds

log = structlog.get_logger("handover.daemon.supervisor")

#: Starts one run of a loop; called again for every restart.
LoopFactory = Callable[[], Coroutine[Any, Any, None]]


def _no_jitter() -> float:
    # Jitter spreads the retries of many clients; one process restarting its own loop
    # has nobody to spread against, and a fixed schedule is easier to read in the log.
    return 1.0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How long a dead loop waits before it is started again."""

    #: The wait after the first failure; it doubles with every further failure...
    base_seconds: float = 1.0
    #: ...up to this.
    cap_seconds: float = 60.0
    #: A loop that ran at least this long before it died starts its backoff afresh:
    #: its failure is a new one, not the next in a series.
    healthy_after_seconds: float = 300.0

    def delay(self, failures: int) -> float:
        """The wait before the restart that follows failure number `failures` (from 1)."""
        return backoff_seconds(failures, self.base_seconds, self.cap_seconds, rand=_no_jitter)


class LoopSupervisor:
    """Runs named loops as tasks and restarts the ones that die (see module docstring).

    Time comes from `clock`, so tests drive the backoff with a fake clock.
    """

    def __init__(
        self, health: HealthBoard, clock: Clock, policy: RestartPolicy | None = None
    ) -> None:
        self._health = health
        self._clock = clock
        self._policy = policy or RestartPolicy()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        #: How often each loop has been restarted since the supervisor started.
        self.restarts: dict[str, int] = {}

    def spawn(self, name: str, loop: LoopFactory) -> None:
        """Start `loop()` as the task `name`, restarting it whenever it raises."""
        if name in self._tasks:
            raise ValueError(f"a loop named {name!r} is already running")
        self._stopping = False
        self.restarts[name] = 0
        self._tasks[name] = asyncio.create_task(self._supervise(name, loop), name=name)

    def running(self) -> list[str]:
        """The names of the loops whose task has not finished."""
        return [name for name, task in self._tasks.items() if not task.done()]

    async def stop(self) -> None:
        """Cancel every loop (and any pending restart) and wait for them to end."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _supervise(self, name: str, loop: LoopFactory) -> None:
        failures = 0
        while True:
            started = self._clock.now()
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    # Dying while the daemon shuts down: log it, but nothing to restart.
                    log.warning("daemon.loop_failed_while_stopping", loop=name, exc_info=True)
                    return
                ran = (self._clock.now() - started).total_seconds()
                failures = 1 if ran >= self._policy.healthy_after_seconds else failures + 1
                delay = self._policy.delay(failures)
                # A dead loop means no deliveries (or no timers...): make it loud.
                log.exception("daemon.loop_died", loop=name, failures=failures,
                              restart_in_seconds=delay)
                self._health.set(name, CORE_KIND, Health.DISCONNECTED,
                                 f"loop died ({type(exc).__name__}); restart in {delay:g} s")
            await self._clock.sleep(delay)
            if self._stopping:
                return
            self.restarts[name] += 1
            metrics.LOOP_RESTARTS.labels(name).inc()
            log.info("daemon.loop_restarted", loop=name, failures=failures)
            self._health.set(name, CORE_KIND, Health.CONNECTED,
                             f"restarted after {failures} failure(s) in a row")
