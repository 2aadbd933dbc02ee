"""Background loops: a loop that dies is restarted after a capped exponential backoff."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest

from handover.clock import FakeClock
from handover.daemon.app import Daemon
from handover.daemon.health import HealthBoard
from handover.daemon.supervisor import LoopSupervisor, RestartPolicy
from handover.sdk.contracts import Health
from handover.sdk.testing import MemoryChannel
from handover.store.base import StoreError
from handover.store.sqlite.store import SQLiteStore
from tests.harness import TENANT, make_config


async def settle() -> None:
    """Let every ready task run until it waits on something (the fake clock, an event)."""
    for _ in range(20):
        await asyncio.sleep(0)


class FlakyLoop:
    """A loop that raises on its first `failures` runs, then runs until released."""

    def __init__(self, failures: int, clock: FakeClock | None = None,
                 runs_for: float = 0.0) -> None:
        self.failures = failures
        self.clock = clock
        self.runs_for = runs_for
        self.runs = 0
        self.release = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs_for and self.clock is not None:
            await self.clock.sleep(self.runs_for)
        if self.runs <= self.failures:
            raise RuntimeError(f"failure {self.runs}")
        await self.release.wait()


def state(board: HealthBoard, name: str) -> Health | None:
    entry = board.snapshot().get(name)
    return entry.health if entry else None


async def test_a_loop_that_raises_twice_is_restarted_with_growing_waits_and_then_runs() -> None:
    clock, board = FakeClock(), HealthBoard()
    loops = LoopSupervisor(board, clock, RestartPolicy(base_seconds=1, cap_seconds=8))
    flaky = FlakyLoop(failures=2)
    loops.spawn("outbox-worker", flaky.run)
    await settle()
    # First death: down on the health board (fails /readyz) and waiting 1 s.
    assert flaky.runs == 1
    assert state(board, "outbox-worker") is Health.DISCONNECTED
    assert "restart in 1 s" in board.snapshot()["outbox-worker"].detail
    clock.advance(0.9)
    await settle()
    assert flaky.runs == 1
    clock.advance(0.1)
    await settle()
    # Second death: the wait doubles.
    assert flaky.runs == 2
    assert state(board, "outbox-worker") is Health.DISCONNECTED
    clock.advance(1.9)
    await settle()
    assert flaky.runs == 2
    clock.advance(0.1)
    await settle()
    # Third run holds: up again, and still running.
    assert flaky.runs == 3
    assert state(board, "outbox-worker") is Health.CONNECTED
    assert loops.running() == ["outbox-worker"]
    assert loops.restarts["outbox-worker"] == 2
    await loops.stop()
    assert loops.running() == []


def test_the_backoff_is_capped() -> None:
    policy = RestartPolicy(base_seconds=1, cap_seconds=8)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


async def test_a_loop_that_ran_long_before_dying_starts_its_backoff_afresh() -> None:
    clock, board = FakeClock(), HealthBoard()
    policy = RestartPolicy(base_seconds=1, cap_seconds=8, healthy_after_seconds=60)
    loops = LoopSupervisor(board, clock, policy)
    # Every run lasts 100 s of clock time and then fails: each failure is a first one.
    flaky = FlakyLoop(failures=3, clock=clock, runs_for=100)
    loops.spawn("timer-worker", flaky.run)
    for expected_runs in (1, 2, 3):
        await settle()
        clock.advance(100)
        await settle()
        assert flaky.runs == expected_runs
        assert "restart in 1 s" in board.snapshot()["timer-worker"].detail
        clock.advance(1)
    await loops.stop()


async def test_a_loop_that_returns_is_not_restarted() -> None:
    clock, board = FakeClock(), HealthBoard()
    loops = LoopSupervisor(board, clock)
    runs: list[int] = []

    async def told_to_stop() -> None:
        runs.append(1)

    loops.spawn("loop-lag", told_to_stop)
    await settle()
    clock.advance(3600)
    await settle()
    assert runs == [1]
    assert loops.running() == []
    assert "loop-lag" not in board.snapshot()
    await loops.stop()


async def test_stop_ends_a_pending_restart() -> None:
    clock, board = FakeClock(), HealthBoard()
    loops = LoopSupervisor(board, clock)
    flaky = FlakyLoop(failures=1)
    loops.spawn("housekeeping", flaky.run)
    await settle()
    assert state(board, "housekeeping") is Health.DISCONNECTED
    await asyncio.wait_for(loops.stop(), 1)
    clock.advance(3600)
    await settle()
    assert flaky.runs == 1


async def test_two_loops_cannot_share_a_name() -> None:
    loops = LoopSupervisor(HealthBoard(), FakeClock())
    flaky = FlakyLoop(failures=0)
    loops.spawn("outbox-worker", flaky.run)
    with pytest.raises(ValueError, match="already running"):
        loops.spawn("outbox-worker", flaky.run)
    await loops.stop()


class ClaimFailsStore(SQLiteStore):
    """The outbox claim fails a number of times, like a database that is restarting."""

    fail_claims = 2

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        if self.fail_claims:
            self.fail_claims -= 1
            raise StoreError("database is restarting")
        return await super().claim(*args, **kwargs)


async def test_the_daemons_outbox_worker_comes_back_after_dying_and_delivers(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    store = ClaimFailsStore(config.store.path or "")
    daemon = Daemon(config, store=store,
                    restart=RestartPolicy(base_seconds=0.05, cap_seconds=0.1))
    await daemon.start()
    try:
        chat = cast(MemoryChannel, daemon.adapters["chat"])
        conv = await chat.open(TENANT)
        await chat.say(conv.id, "Hallo")
        await chat.wait_for(conv.id, lambda shown: bool(shown))
        assert chat.texts(conv.id) == ["bot: Hallo"]
        assert daemon.loops.restarts["outbox-worker"] == 2
        assert state(daemon.health, "outbox-worker") is Health.CONNECTED
    finally:
        await daemon.stop()
