"""The event-loop lag monitor notices a blocked loop and records it."""

from __future__ import annotations

import asyncio
import time

import pytest

from handover.daemon.looplag import LoopLagMonitor
from handover.metrics import REGISTRY

LAG = "handover_event_loop_lag_seconds"


def observations() -> float:
    return REGISTRY.get_sample_value(f"{LAG}_count") or 0.0


def above_quarter_second() -> float:
    """How many observations exceeded 0.25 s (count minus the le=0.25 bucket)."""
    within = REGISTRY.get_sample_value(f"{LAG}_bucket", {"le": "0.25"}) or 0.0
    return observations() - within


async def test_blocked_loop_is_observed() -> None:
    monitor = LoopLagMonitor()
    before, high_before = observations(), above_quarter_second()
    task = asyncio.create_task(monitor.run(interval=0.02))
    await asyncio.sleep(0.05)  # let it measure an idle loop first
    assert observations() > before
    seen = observations()
    time.sleep(0.3)  # block the loop, as a synchronous call in a handler would
    # Yield until the overdue wake-up was measured, but not long enough for the next
    # (undelayed) measurement to replace it.
    for _ in range(100):
        if observations() > seen:
            break
        await asyncio.sleep(0)
    assert monitor.last_lag >= 0.25
    assert above_quarter_second() == high_before + 1
    monitor.stop()
    await asyncio.wait_for(task, 1)


async def test_stop_ends_run_promptly() -> None:
    monitor = LoopLagMonitor()
    task = asyncio.create_task(monitor.run(interval=60))
    await asyncio.sleep(0)
    monitor.stop()
    await asyncio.wait_for(task, 1)  # no waiting out the 60 s interval
    assert task.done() and task.exception() is None


async def test_stop_before_run_returns_at_once() -> None:
    monitor = LoopLagMonitor()
    monitor.stop()
    await asyncio.wait_for(monitor.run(interval=60), 1)


async def test_cancel_is_clean() -> None:
    monitor = LoopLagMonitor()
    task = asyncio.create_task(monitor.run(interval=60))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_high_lag_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    monitor = LoopLagMonitor(warn_after=0.1)
    task = asyncio.create_task(monitor.run(interval=0.01))
    await asyncio.sleep(0.02)
    time.sleep(0.15)
    await asyncio.sleep(0.02)
    monitor.stop()
    await asyncio.wait_for(task, 1)
    assert "loop.lag_high" in capsys.readouterr().out


async def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        await LoopLagMonitor().run(interval=0)
