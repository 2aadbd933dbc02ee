"""The outbox ledger: what this instance's worker did with its leased items, written in
as few store transactions as possible.

A relayed message used to cost a chain of transactions: the step that made an outbox
item, the claim of it, marking it in flight, completing it. Now the step leases the
items this instance will deliver as it makes them (`Step.lease_owner`) and the router
hands them to the worker in memory, with no claim. What the worker then records goes
through this ledger:

- a completion waits for the rest of the event loop's current round: a step of any
  conversation committed meanwhile removes it in its own transaction (`take` /
  `settle`); otherwise one batched transaction removes every completion that waited;
- marks in flight (a send to a target that is not resend-safe is about to start) are
  batched with whatever else waits, and written before the send starts;
- releases (items handed over in memory that will not be sent here after all) too.

A caller awaits its entry until the transaction that carried it committed, so the
worker's order of events (send, then the item is gone; mark, then send) is as durable
as before. A crash loses only entries not yet committed: their items are still leased
and are delivered again once the lease runs out, exactly as after a crash between a
send and its completion.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from handover.engine.crashpoints import crash_point
from handover.store.base import Store

log = structlog.get_logger("handover.engine.handoff")

#: How long a completion waits for a step to carry it before it is written on its own.
#: Not longer than the current round of the event loop: until its removal is durable a
#: delivered item would be delivered again after a crash (a duplicate for the citizen's
#: socket), and with 5 ms the scale-out SIGKILL test saw exactly that. Under load the
#: round's steps and the other completions of the round still carry it.
COMPLETION_LINGER_SECONDS = 0.0


@dataclass(slots=True)
class LedgerEntry:
    """One item's fate, resolved once a committed transaction recorded it."""

    row_id: int
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class OutboxLedger:
    """Completions, marks in flight and releases of one owner's outbox items."""

    def __init__(self, store: Store, owner: str,
                 linger: float = COMPLETION_LINGER_SECONDS) -> None:
        self._store = store
        self._owner = owner
        self._linger = linger
        self._completed: list[LedgerEntry] = []
        self._in_flight: list[LedgerEntry] = []
        self._released: list[LedgerEntry] = []
        self._flush_at: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    @property
    def owner(self) -> str:
        return self._owner

    # --- what the worker records -----------------------------------------------------

    async def complete(self, row_id: int) -> None:
        """The item was delivered: remove it from the outbox; returns once durable."""
        entry = LedgerEntry(row_id)
        self._completed.append(entry)
        self._schedule(self._linger)
        await entry.done

    async def mark_in_flight(self, row_id: int) -> None:
        """A send that must not be repeated is about to start; returns once durable."""
        entry = LedgerEntry(row_id)
        self._in_flight.append(entry)
        self._schedule(0.0)  # the send waits for it: only gather this loop tick's marks
        await entry.done

    async def release(self, row_ids: Sequence[int]) -> None:
        """Items handed over in memory that this worker will not send: free their
        leases so any worker can claim them in order; returns once durable."""
        entries = [LedgerEntry(row_id) for row_id in row_ids]
        self._released.extend(entries)
        self._schedule(0.0)
        await asyncio.gather(*(entry.done for entry in entries))

    # --- steps carry completions ------------------------------------------------------

    def take(self) -> list[LedgerEntry]:
        """The waiting completions, for a step to remove in its transaction; the caller
        must `settle` them with the step's outcome."""
        taken, self._completed = self._completed, []
        return taken

    def settle(self, taken: Sequence[LedgerEntry], committed: bool) -> None:
        """The step that took `taken` committed (they are durable) or did not (they
        wait again)."""
        if committed:
            for entry in taken:
                self._resolved(entry)
        elif taken:
            self._completed[:0] = taken
            self._schedule(self._linger)

    # --- batches --------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if self._flush_at is not None:
            if self._flush_at.when() <= loop.time() + delay:
                return
            self._flush_at.cancel()
        self._flush_at = loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_at = None
        task = asyncio.get_running_loop().create_task(self.flush(), name="outbox-ledger")
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write everything that waits, in one transaction (the worker calls it when it
        drains; otherwise it runs by itself)."""
        completed, self._completed = self._completed, []
        in_flight, self._in_flight = self._in_flight, []
        released, self._released = self._released, []
        if not (completed or in_flight or released):
            return
        try:
            await self._store.finish_leased(
                self._owner,
                completed=[e.row_id for e in completed],
                in_flight=[e.row_id for e in in_flight],
                released=[e.row_id for e in released],
            )
        except Exception as exc:
            # As when a single completion or mark failed: the worker logs it, a mark's
            # send does not start, and the leases run out, so the items are delivered
            # again (released ones merely wait for their leases to run out).
            log.warning("delivery.ledger_write_failed",
                        items=len(completed) + len(in_flight) + len(released))
            for entry in (*completed, *in_flight, *released):
                if not entry.done.done():
                    entry.done.set_exception(exc)
            return
        crash_point("delivery.after_batch")
        for entry in (*completed, *in_flight, *released):
            self._resolved(entry)

    def _resolved(self, entry: LedgerEntry) -> None:
        if not entry.done.done():
            entry.done.set_result(None)

    async def close(self) -> None:
        """Write what waits and stop (the worker drains)."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        for task in list(self._flushing):
            with contextlib.suppress(Exception):
                await task
        await self.flush()
