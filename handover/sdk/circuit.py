"""A small circuit breaker for calls to an upstream that may be down.

While an upstream answers, calls pass (closed). After `failure_threshold` failures in a
row the circuit opens: calls are refused at once with `CircuitOpenError`, whose
`retry_after` tells the caller (and the outbox worker) when to come back, so a dead
desk is not hammered by every queued item. After `reset_seconds` the circuit is
half-open: exactly one call is let through as a probe; its success closes the circuit,
its failure opens it again for another `reset_seconds`.

What counts as a failure is the caller's decision (`counts_as_failure`): a refusal such
as 400 or 429 proves the upstream is alive and is not one. The breaker holds no lock:
it is used from one event loop, and every state change happens between awaits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import IntEnum

from handover import metrics
from handover.clock import Clock


class CircuitState(IntEnum):
    """The values are those of the `handover_circuit_state` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpenError(Exception):
    """The call was not tried: the upstream is considered down for `retry_after` seconds."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit {name!r} is open; retry in {retry_after:.1f}s")
        self.retry_after = retry_after


#: What callers refused while a probe is out are told to wait (seconds).
_PROBE_WAIT = 1.0


def _always(exc: BaseException) -> bool:
    return True


class CircuitBreaker:
    """Guards the calls to one upstream. Use `with breaker.guard(): await call()`.

    `on_change(state)` is called after every state change (to report health). The
    state is exported as `handover_circuit_state{circuit=name}`; `name` must be a
    bounded label value such as an adapter instance name.
    """

    def __init__(
        self,
        name: str,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        counts_as_failure: Callable[[BaseException], bool] = _always,
        on_change: Callable[[CircuitState], None] = lambda state: None,
    ) -> None:
        if failure_threshold < 1 or reset_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds > 0")
        self.name = name
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.counts_as_failure = counts_as_failure
        self.on_change = on_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at: datetime | None = None
        self._probing = False
        metrics.CIRCUIT_STATE.labels(name).set(CircuitState.CLOSED)

    @property
    def state(self) -> CircuitState:
        """The state as of now: an open circuit whose time is up reads as half-open."""
        if self._state is CircuitState.OPEN and self._retry_after() <= 0:
            return CircuitState.HALF_OPEN
        return self._state

    def retry_after(self) -> float:
        """Seconds until a call may be tried again (0 when one may be tried now)."""
        if self._state is CircuitState.CLOSED:
            return 0.0
        if self._probing:
            # A probe is out: come back soon, it will have decided by then.
            return _PROBE_WAIT
        return self._retry_after()

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run one call through the breaker; raises CircuitOpenError instead of calling."""
        self.before_call()
        try:
            yield
        except Exception as exc:
            if self.counts_as_failure(exc):
                self.record_failure()
            else:
                # Refused for a reason that proves the upstream answers (400, 429...).
                self.record_success()
            raise
        except BaseException:
            # Cancelled: that tells nothing about the upstream; let the next call probe.
            self._probing = False
            raise
        self.record_success()

    def before_call(self) -> None:
        """Let a call through or raise CircuitOpenError."""
        if self._state is CircuitState.OPEN:
            if self._retry_after() > 0:
                metrics.CIRCUIT_REJECTED.labels(self.name).inc()
                raise CircuitOpenError(self.name, self._retry_after())
            self._set(CircuitState.HALF_OPEN)
        if self._state is CircuitState.HALF_OPEN:
            if self._probing:
                metrics.CIRCUIT_REJECTED.labels(self.name).inc()
                raise CircuitOpenError(self.name, _PROBE_WAIT)
            self._probing = True

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not CircuitState.CLOSED:
            self._opened_at = None
            self._set(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._probing = False
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self.clock.now()
            if self._state is not CircuitState.OPEN:
                self._set(CircuitState.OPEN)

    def _retry_after(self) -> float:
        if self._opened_at is None:
            return 0.0
        elapsed = (self.clock.now() - self._opened_at).total_seconds()
        return max(0.0, self.reset_seconds - elapsed)

    def _set(self, state: CircuitState) -> None:
        self._state = state
        metrics.CIRCUIT_STATE.labels(self.name).set(state)
        self.on_change(state)
