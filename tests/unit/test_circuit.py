"""The circuit breaker: opens after failures in a row, refuses, probes once, closes."""

from __future__ import annotations

import pytest

from handover import metrics
from handover.clock import FakeClock
from handover.sdk.circuit import CircuitBreaker, CircuitOpenError, CircuitState


class Down(Exception):
    pass


class Refused(Exception):
    pass


def make(clock: FakeClock, changes: list[CircuitState] | None = None) -> CircuitBreaker:
    return CircuitBreaker(
        "test-desk", clock, failure_threshold=3, reset_seconds=30,
        counts_as_failure=lambda exc: isinstance(exc, Down),
        on_change=(changes.append if changes is not None else lambda s: None),
    )


def fail(breaker: CircuitBreaker, exc: Exception) -> None:
    with pytest.raises(type(exc)), breaker.guard():
        raise exc


def gauge(name: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("handover_circuit_state", {"circuit": name})


def test_opens_after_threshold_failures_in_a_row_and_refuses_without_calling() -> None:
    clock, changes = FakeClock(), []
    breaker = make(clock, changes)
    fail(breaker, Down())
    fail(breaker, Down())
    with breaker.guard():
        pass  # a success in between resets the count
    fail(breaker, Down())
    fail(breaker, Down())
    assert breaker.state is CircuitState.CLOSED
    fail(breaker, Down())
    assert breaker.state is CircuitState.OPEN and changes == [CircuitState.OPEN]
    assert gauge("test-desk") == 2

    before = metrics.REGISTRY.get_sample_value(
        "handover_circuit_rejected_total", {"circuit": "test-desk"}) or 0
    called = False
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as refused, breaker.guard():
        called = True
    assert not called
    assert refused.value.retry_after == pytest.approx(20)
    assert metrics.REGISTRY.get_sample_value(
        "handover_circuit_rejected_total", {"circuit": "test-desk"}) == before + 1


def test_refusals_that_prove_the_upstream_answers_do_not_open_it() -> None:
    breaker = make(FakeClock())
    for _ in range(10):
        fail(breaker, Refused())
    assert breaker.state is CircuitState.CLOSED


def test_after_reset_one_probe_goes_through_and_its_success_closes() -> None:
    clock, changes = FakeClock(), []
    breaker = make(clock, changes)
    for _ in range(3):
        fail(breaker, Down())
    clock.advance(30)
    assert breaker.state is CircuitState.HALF_OPEN
    with breaker.guard():
        # While the probe is out, everyone else is told to come back shortly.
        with pytest.raises(CircuitOpenError) as other, breaker.guard():
            pass
        assert 0 < other.value.retry_after <= 1
    assert breaker.state is CircuitState.CLOSED
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]
    assert gauge("test-desk") == 0


def test_a_failed_probe_opens_it_for_another_period() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        fail(breaker, Down())
    clock.advance(31)
    fail(breaker, Down())
    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_after() == pytest.approx(30)


def test_a_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        fail(breaker, Down())
    clock.advance(30)
    with pytest.raises(KeyboardInterrupt), breaker.guard():
        raise KeyboardInterrupt
    with breaker.guard():
        pass
    assert breaker.state is CircuitState.CLOSED


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", FakeClock(), failure_threshold=0)
