"""Leases on live citizen connections, so several instances can share one database.

A channel that keeps a live connection per conversation (the widget's websocket) holds
a lease while it is open. The store then hands that conversation's citizen-bound
outbox items only to this instance, which has the socket; a desk webhook that lands on
another instance still reaches the citizen. Leases are renewed while the instance
lives and run out when it dies; a citizen who reconnects elsewhere takes the lease
over, and that instance replays what the socket missed from the transcript.

With an engine that serves one instance (SQLite, `Store.shared` false) nothing is
recorded and nothing is woken: a connection costs one attribute check.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import structlog

from handover.clock import Clock, wait_for_wake
from handover.store.base import Store

log = structlog.get_logger("handover.engine.leases")

#: How long a lease outlives the last renewal: how long a dead instance's
#: conversations wait before another instance delivers to them (a reconnect is sooner).
LEASE_SECONDS = 30.0
#: Renew well within the lease, so one slow round trip does not lose it.
RENEW_SECONDS = LEASE_SECONDS / 3


class ConnectionLeases:
    """This instance's live connections, counted per conversation (several tabs)."""

    def __init__(self, store: Store, owner: str, clock: Clock,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self._store = store
        self._owner = owner
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._held: Counter[str] = Counter()
        self._stopping = False
        self._wake = asyncio.Event()

    @property
    def owner(self) -> str:
        return self._owner

    def held(self) -> set[str]:
        return set(self._held)

    async def hold(self, conversation_id: str) -> bool:
        """A connection for the conversation opened here. Takes the lease over even
        when this instance counted one already: another may have taken it since.
        Returns whether a lease was recorded (only on a store shared by instances)."""
        if not self._store.shared:
            return False  # one instance: nothing to route, nothing to record
        self._held[conversation_id] += 1
        try:
            await self._store.hold_connections(
                self._owner, [conversation_id], self._clock.now() + self._lease
            )
        except Exception:
            # The socket still works; live deliveries may land on another instance
            # meanwhile, and the next reconnect replays them from the transcript.
            log.warning("connections.hold_failed", conversation_id=conversation_id,
                        exc_info=True)
        return True

    async def release(self, conversation_id: str) -> None:
        """A connection closed; the lease ends with the last one of the conversation."""
        if conversation_id not in self._held:
            return  # never recorded (an unshared store)
        if self._held[conversation_id] > 1:
            self._held[conversation_id] -= 1
            return
        self._held.pop(conversation_id, None)
        try:
            await self._store.drop_connections(self._owner, [conversation_id])
        except Exception:
            log.warning("connections.release_failed", conversation_id=conversation_id,
                        exc_info=True)  # it runs out by itself

    async def run(self, every: float = RENEW_SECONDS) -> None:
        """Renew every lease this instance holds, until `stop`."""
        while not self._stopping:
            if self._held:
                try:
                    await self._store.renew_connections(
                        self._owner, self._clock.now() + self._lease
                    )
                except Exception:
                    log.warning("connections.renew_failed", exc_info=True)
            self._wake.clear()
            await wait_for_wake(self._wake, self._clock, every)

    async def stop(self) -> None:
        """Give every lease back, so other instances deliver at once (on SIGTERM)."""
        self._stopping = True
        self._wake.set()
        self._held.clear()
        try:
            await self._store.drop_connections(self._owner)
        except Exception:
            log.warning("connections.release_failed", exc_info=True)
