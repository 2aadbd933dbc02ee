"""What the console's instances share through `ctx.state`: agents online and live
events (the end-to-end run on PostgreSQL is tests/e2e/test_scaleout_console.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from adapters.console.feed import BUCKET_SECONDS, EventFeed
from adapters.console.presence import TTL_SECONDS, Presence
from handover.sdk.testing import FakeClock, MemoryState


async def test_an_agent_online_on_one_instance_counts_on_every_instance() -> None:
    clock = FakeClock()
    state = MemoryState(clock)
    on_a, on_b = Presence(state), Presence(state)
    await on_a.arrive("page-1", "sanne", ["demo"])
    assert await on_b.online("demo") == 1 and await on_b.online("elders") == 0
    clock.advance(TTL_SECONDS - 1)
    await on_a.arrive("page-1", "sanne", ["demo"])  # renewed
    clock.advance(TTL_SECONDS - 1)
    assert await on_b.online("demo") == 1
    clock.advance(1)  # instance A died: no renewal
    assert await on_b.online("demo") == 0
    await on_a.arrive("page-2", "sanne", ["demo"])
    await on_a.leave("page-2")
    assert await on_b.online("demo") == 0


async def test_events_cross_to_the_other_instance_once_and_not_back() -> None:
    clock = FakeClock()
    state = MemoryState(clock)
    got: dict[str, list[tuple[str, Mapping[str, Any]]]] = {"a": [], "b": []}
    log = structlog.get_logger("test")
    a = EventFeed(state, clock, lambda t, e: got["a"].append((t, e)), log)
    b = EventFeed(state, clock, lambda t, e: got["b"].append((t, e)), log)
    await a.publish("demo", {"type": "typing", "n": 1})
    assert await b.poll() == 1 and await a.poll() == 0
    assert got["b"] == [("demo", {"type": "typing", "n": 1})] and got["a"] == []
    assert await b.poll() == 0, "seen once"
    # Across a bucket boundary, an event of the previous bucket is still found once.
    clock.advance(BUCKET_SECONDS - 0.5)
    await a.publish("demo", {"type": "typing", "n": 2})
    clock.advance(1)
    await a.publish("demo", {"type": "typing", "n": 3})
    assert await b.poll() == 2
    assert [e["n"] for _, e in got["b"]] == [1, 2, 3]
