"""Live events for agent pages connected to another daemon instance.

What the console pushes to agents' pages (a thread appeared, the citizen wrote, a
note, typing) happens on the instance that handled the delivery or the agent's action;
the page may be connected to another one. Each event is therefore written to the
console's state as `feed:<bucket>:<time>:<origin>:<random>`, and every instance's
poller pushes what it finds to its own pages, in key order. The instance that wrote an
event polls at once, so its own pages get it without waiting, and with every event the
feed holds before it: a page never gets the citizen's second message before the first
when the two were delivered by different instances. A page on another instance gets it
within `POLL_SECONDS` (plus a store round trip).

Records expire after `TTL_SECONDS`; housekeeping deletes them. The poller reads the
current and the previous ten-second bucket (`BUCKET_SECONDS`) and remembers what it has
seen, so an event written with a slightly older time (a slow write, clock skew between
instances) still arrives, and none arrives twice. Events are a hint, as the local push
always was: a page that (re)connects fetches the whole state over HTTP, so an event lost
with a store outage is only not pushed, never lost from the view.
"""

from __future__ import annotations

import asyncio
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
        #: This process's mark on its own events.
        self.origin = secrets.token_hex(8)
        self._seen: set[str] = set()
        #: Keys this process wrote: never taken for history when the feed is primed.
        self._written: set[str] = set()
        self._primed = False
        #: One poll at a time: a publish's poll and the loop's must not deliver twice.
        self._lock = asyncio.Lock()

    def _bucket(self, offset: int = 0) -> str:
        return f"{_FEED}{int(self.clock.now().timestamp()) // BUCKET_SECONDS + offset:012d}:"

    async def publish(self, tenant: str, event: Mapping[str, Any]) -> None:
        """Make `event` reach the pages that see `tenant`, on every instance.

        Written to the feed, then this instance polls at once. Raises what the store
        raises; the caller then pushes to its own pages directly (`deliver`)."""
        at = self.clock.now().timestamp()
        key = f"{self._bucket()}{at:020.6f}:{self.origin}:{secrets.token_hex(3)}"
        value = {"origin": self.origin, "tenant": tenant, "event": dict(event)}
        self._written.add(key)
        await self.state.put(key, value, ttl_seconds=TTL_SECONDS)
        try:
            await self.poll()
        except Exception:
            # Written: the next poll of the loop delivers it.
            self.log.warning("console.feed_poll_failed", exc_info=True)

    async def poll(self) -> int:
        """Deliver the events not seen yet, in key order; returns how many."""
        async with self._lock:
            delivered = 0
            current: set[str] = set()
            for prefix in (self._bucket(-1), self._bucket()):
                for key, record in await self.state.scan(prefix, limit=MAX_PER_BUCKET):
                    current.add(key)
                    if key in self._seen:
                        continue
                    self.deliver(record.value["tenant"], record.value["event"])
                    delivered += 1
            # Keys of buckets no longer read cannot come back: forget them.
            self._seen = current
            self._written &= current
            return delivered

    async def _prime(self) -> None:
        """What is in the feed at start is history: not pushed (pages fetch the state
        when they connect). Except what this process wrote itself meanwhile."""
        self._seen = {k for p in (self._bucket(-1), self._bucket())
                      for k, _ in await self.state.scan(p, limit=MAX_PER_BUCKET)
                      if k not in self._written}
        self._primed = True

    async def run(self) -> None:
        """Poll until cancelled. What is in the feed at start is history: not pushed."""
        while True:
            try:
                if self._primed:
                    await self.poll()
                else:
                    async with self._lock:
                        await self._prime()
            except Exception:
                # The store is away: pages miss pushes meanwhile, and fetch on reconnect.
                self.log.warning("console.feed_poll_failed", exc_info=True)
            await self.clock.sleep(POLL_SECONDS)
