"""The inbox: dedup keys of events received and of messages the desk will echo."""

from __future__ import annotations

import abc
from datetime import datetime


class InboxStore(abc.ABC):
    """Keys (source, source_id) that make redelivered events harmless.

    `commit` records a step's inbound key and its echo keys in the same transaction as
    the step; the methods here read them, record an echo outside a step, and forget old
    ones.
    """

    @abc.abstractmethod
    async def seen(self, source: str, source_id: str) -> bool:
        """Whether an inbox key was recorded (an inbound event or a desk echo).

        Called by the router before it drops an event without a step (a duplicate then
        counts as such), and by the delivery worker to learn whether the follow-up of a
        send that was interrupted arrived. Raises StoreError.
        """

    @abc.abstractmethod
    async def record_echo(self, source: str, source_id: str) -> None:
        """Record the id the desk gave a message we posted, so its echo is dropped.
        Called by the delivery worker right after a desk accepted a message, and by the
        router for an event it drops without a step (so a redelivery is a duplicate).
        Recording a known key does nothing. Raises StoreError."""

    @abc.abstractmethod
    async def purge_inbox(self, older_than: datetime) -> int:
        """Forget dedup keys received before `older_than`; returns how many. Called
        periodically by the daemon, with a cut-off far beyond any redelivery window.
        Raises StoreError."""
