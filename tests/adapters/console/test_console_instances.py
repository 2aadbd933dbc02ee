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


async def test_events_reach_every_instance_once_the_writer_at_once() -> None:
    clock = FakeClock()
    state = MemoryState(clock)
    got: dict[str, list[tuple[str, Mapping[str, Any]]]] = {"a": [], "b": []}
    log = structlog.get_logger("test")
    a = EventFeed(state, clock, lambda t, e: got["a"].append((t, e)), log)
    b = EventFeed(state, clock, lambda t, e: got["b"].append((t, e)), log)
    await a.publish("demo", {"type": "typing", "n": 1})
    # The writer's pages get it at once (its publish polls), the other's at its poll.
    assert got["a"] == [("demo", {"type": "typing", "n": 1})]
    assert await b.poll() == 1 and await a.poll() == 0
    assert got["b"] == [("demo", {"type": "typing", "n": 1})]
    assert await b.poll() == 0, "seen once"
    # Across a bucket boundary, an event of the previous bucket is still found once.
    clock.advance(BUCKET_SECONDS - 0.5)
    await a.publish("demo", {"type": "typing", "n": 2})
    clock.advance(1)
    await a.publish("demo", {"type": "typing", "n": 3})
    assert await b.poll() == 2
    assert [e["n"] for _, e in got["b"]] == [1, 2, 3]


async def test_a_page_gets_events_in_the_order_they_were_written_across_instances() -> None:
    """The citizen's first message delivered by instance A, the second by B: a page on B
    gets the first before the second, although B wrote the second itself."""
    clock = FakeClock()
    state = MemoryState(clock)
    got: dict[str, list[int]] = {"a": [], "b": []}
    log = structlog.get_logger("test")
    a = EventFeed(state, clock, lambda t, e: got["a"].append(e["n"]), log)
    b = EventFeed(state, clock, lambda t, e: got["b"].append(e["n"]), log)
    await a.publish("demo", {"type": "message", "n": 0})
    clock.advance(0.01)
    await b.publish("demo", {"type": "message", "n": 1})  # before b's loop polled
    await a.poll()
    assert got == {"a": [0, 1], "b": [0, 1]}
