"""Live events for agent pages connected to another daemon instance.

What the console pushes to agents' pages (a thread appeared, the citizen wrote, a
note, typing) happens on the instance that handled the delivery or the agent's action;
the page may be connected to another one. Each event is therefore pushed to the local
pages at once and also written to the console's state as `feed:<bucket>:<time>:<origin>
:<random>`, where every other instance's poller finds it within `POLL_SECONDS` and pushes
it to its own pages. So the latency to a page on another instance is up to about one
second (plus a store round trip), and on the same instance none.

Records expire after `TTL_SECONDS`; housekeeping deletes them. The poller reads the
current and the previous ten-second bucket (`BUCKET_SECONDS`) and remembers what it has
seen, so an event written with a slightly older time (a slow write, clock skew between
instances) still arrives, and none arrives twice. Events are a hint, as the local push
always was: a page that (re)connects fetches the whole state over HTTP, so an event lost
with a store outage is only not pushed, never lost from the view.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from handover.sdk.clock import Clock
from handover.sdk.state import AdapterState

__all__ = ["POLL_SECONDS", "EventFeed"]

_FEED = "feed:"
POLL_SECONDS = 1.0
BUCKET_SECONDS = 10
TTL_SECONDS = 60.0
#: Events read per bucket and poll: 100 events a second across all instances.
MAX_PER_BUCKET = 1000

Deliver = Callable[[str, Mapping[str, Any]], None]


class EventFeed:
    """One instance's end of the feed: `publish` writes, `run` polls and delivers the
    other instances' events to `deliver(tenant, event)`."""

    def __init__(self, state: AdapterState, clock: Clock, deliver: Deliver,
                 log: structlog.stdlib.BoundLogger) -> None:
        self.state = state
        self.clock = clock
        self.deliver = deliver
        self.log = log
        #: This process's mark on its own events (they were delivered locally already).
        self.origin = secrets.token_hex(8)
        self._seen: set[str] = set()

    def _bucket(self, offset: int = 0) -> str:
        return f"{_FEED}{int(self.clock.now().timestamp()) // BUCKET_SECONDS + offset:012d}:"

    async def publish(self, tenant: str, event: Mapping[str, Any]) -> None:
        """Make `event` reach the pages that see `tenant` on the other instances."""
        at = self.clock.now().timestamp()
        key = f"{self._bucket()}{at:020.6f}:{self.origin}:{secrets.token_hex(3)}"
        value = {"origin": self.origin, "tenant": tenant, "event": dict(event)}
        await self.state.put(key, value, ttl_seconds=TTL_SECONDS)

    async def poll(self) -> int:
        """Deliver the other instances' events not seen yet; returns how many."""
        delivered = 0
        current: set[str] = set()
        for prefix in (self._bucket(-1), self._bucket()):
            for key, record in await self.state.scan(prefix, limit=MAX_PER_BUCKET):
                current.add(key)
                if key in self._seen or record.value.get("origin") == self.origin:
                    continue
                self.deliver(record.value["tenant"], record.value["event"])
                delivered += 1
        # Keys of buckets no longer read cannot come back: forget them.
        self._seen = current
        return delivered

    async def run(self) -> None:
        """Poll until cancelled. What is in the feed at start is history: not pushed."""
        primed = False
        while True:
            try:
                if primed:
                    await self.poll()
                else:
                    self._seen = {k for p in (self._bucket(-1), self._bucket())
                                  for k, _ in await self.state.scan(p, limit=MAX_PER_BUCKET)}
                    primed = True
            except Exception:
                # The store is away: pages miss pushes meanwhile, and fetch on reconnect.
                self.log.warning("console.feed_poll_failed", exc_info=True)
            await self.clock.sleep(POLL_SECONDS)
