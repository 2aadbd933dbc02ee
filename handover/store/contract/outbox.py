"""The outbox: durable delivery queues, one per (conversation, target).

Items are added by `commit` only. The delivery worker claims queue heads, sends them
and then completes, reschedules or dead-letters them; every one of those calls names
the lease owner and does nothing when the lease has meanwhile passed to someone else.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from handover.model import DeadLetter, OutboxRow, Target


class OutboxStore(abc.ABC):
    """Leasing, finishing and inspecting outbox items."""

    @abc.abstractmethod
    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        exclude: set[tuple[str, Target]] | None = None,
    ) -> list[OutboxRow]:
        """Lease the head item of up to `limit` ready (conversation, target) queues.

        Only the oldest pending item of a queue is ever handed out, only when it is due
        and not leased by a live owner, so delivery per queue is in order with one item
        in flight. Queues in `exclude` are skipped (the worker passes the queues it is
        still sending on). Called by the delivery worker in its loop. Raises StoreError.
        """

    @abc.abstractmethod
    async def mark_in_flight(self, row_id: int, owner: str) -> None:
        """Record that a send is about to start, so a crash mid-send is recognised as
        ambiguous when the item is claimed again (only used for targets that are not
        resend-safe). Called by the delivery worker just before the send. Raises
        StoreError; the send then does not start."""

    @abc.abstractmethod
    async def complete(self, row_id: int, owner: str) -> None:
        """The item was delivered (or is no longer worth sending); remove it. Called by
        the delivery worker after the send. Raises StoreError (the item is then sent
        again after its lease ran out, which is why follow-ups are deduplicated)."""

    @abc.abstractmethod
    async def reschedule(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> None:
        """A failed attempt: count it, clear in_flight, release the lease and try again
        at `next_attempt_at`. Called by the delivery worker after a transient failure.
        Raises StoreError."""

    @abc.abstractmethod
    async def dead_letter(
        self, row_id: int, owner: str, reason: str, now: datetime
    ) -> DeadLetter | None:
        """Move the item to the dead letters (None when it is no longer ours). Called by
        the delivery worker when it gives up (permanent failure, too many attempts, too
        old, an ambiguous interrupted send). Raises StoreError."""

    @abc.abstractmethod
    async def finish_leased(
        self,
        owner: str,
        *,
        completed: Sequence[int] = (),
        in_flight: Sequence[int] = (),
        released: Sequence[int] = (),
    ) -> None:
        """In one transaction: remove the `completed` items, mark the `in_flight` ones
        (see `mark_in_flight`) and release the lease of the `released` ones (due now
        for whoever claims them), each only while it is still leased to `owner`.
        Called by the delivery worker for batches of its own items. Raises StoreError
        (nothing of the batch is then written)."""

    @abc.abstractmethod
    async def release_leases(self, owner: str | None = None) -> int:
        """Release leases of `owner` (all owners when None); returns how many. Called by
        the worker when it drains, and at start-up of a single-instance daemon for the
        leases of a killed predecessor. Raises StoreError."""

    @abc.abstractmethod
    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        """(pending items, age in seconds of the oldest pending item). Read for the
        metrics gauges. Raises StoreError."""

    @abc.abstractmethod
    async def outbox_for(self, conversation_id: str) -> list[OutboxRow]:
        """Pending items of one conversation, oldest first (for the admin API). Raises
        StoreError."""

    @abc.abstractmethod
    async def next_due(self) -> datetime | None:
        """When the earliest pending queue head becomes claimable (None if nothing
        waits); a head leased by someone counts from when its lease runs out. Raises
        StoreError."""
