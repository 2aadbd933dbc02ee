"""The outbox worker: delivers outbox items in order per (conversation, target).

Items reach it two ways. Most are handed over in memory by the router: the step that
made them leased them to this worker, because their queue held nothing earlier (see
`Step`). The rest it claims: the head item of each ready queue, leased in a claim
transaction (recovery after a restart, retries, items behind an earlier one, another
instance's work). Either way it sends each item through the target adapter and on
success removes it; results that are themselves inbound events (a bot's reply, the
desk's availability) are ingested durably *with* the removal, in one transaction, so a
crash never separates them. Removals and marks in flight go through the
`OutboxLedger`, which lets the next step carry them or batches them.

One task per queue sends that queue's items one after the other. When an item cannot
be sent now (a retry, an error) the items handed over behind it are released, and the
claim path takes them once they are the head. What a send of each kind does is the
kind's operation in `handover.engine.outbox`; the worker owns the order, leases,
retries, expiry and dead letters around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from handover import events as ev
from handover import metrics
from handover.clock import wait_for_wake
from handover.engine.crashpoints import crash_point
from handover.engine.handoff import OutboxLedger
from handover.engine.outbox import OPERATIONS
from handover.engine.router import Router
from handover.model import Conversation, OutboxRow, Target
from handover.observability.logs import bind_correlation
from handover.sdk.contracts import Adapter, Health
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
    UnknownConversation,
)
from handover.sdk.retry import backoff_seconds

log = structlog.get_logger("handover.delivery")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    concurrency: int = 64
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 300.0
    max_age_seconds: Mapping[str, float] | None = None
    desk_delay_notice_seconds: float = 60.0


#: Resolve the adapter that serves an outbox row of a conversation (its target, and for
#: a registration the adapter instance the row names). Raises LookupError when the
#: configuration has no such adapter (any more).
TargetResolver = Callable[[Conversation, OutboxRow], Adapter]
#: Report an adapter's health (name, health, detail).
HealthReporter = Callable[[Adapter, Health, str], None]
#: A delivery queue: (conversation id, target).
Queue = tuple[str, Target]
#: An item handed over in memory is sent here only while this much of its lease is
#: left; later it is released and claimed again (with a fresh lease).
LEASE_MARGIN = 1 / 3


class OutboxWorker:
    """Delivers outbox items; one instance per daemon process."""

    def __init__(
        self,
        router: Router,
        resolve: TargetResolver,
        clock: Any,
        settings: WorkerSettings,
        report_health: HealthReporter = lambda a, h, d: None,
        owner: str | None = None,
    ) -> None:
        self.router = router
        self.store = router.store
        self.resolve = resolve
        self.clock = clock
        self.settings = settings
        self.report_health = report_health
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        #: `wake` was called since the last claim: work was announced (for the
        #: handover_claim_retries_total count of claims that then found none).
        self._announced = False
        self._inflight: dict[Queue, asyncio.Task[None]] = {}
        # Items handed over in memory, by queue, with the end of their lease; queues
        # with such items waiting for a free slot; queues whose later items were left
        # to be claimed (not leased at creation because this worker still had one).
        self._handed: dict[Queue, deque[tuple[OutboxRow, datetime]]] = {}
        self._waiting: deque[Queue] = deque()
        self._followers: set[Queue] = set()
        self._stopping = False
        self._running = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.ledger = OutboxLedger(self.store, self.owner)
        self.lease_seconds = settings.lease_seconds
        router.attach_delivery(self)

    # --- lifecycle ------------------------------------------------------------------

    def wake(self) -> None:
        """New work was committed; look for it now rather than at the next poll."""
        self._announced = True
        self._wake.set()

    @property
    def accepting(self) -> bool:
        """Whether steps may lease items to this worker: only while `run` runs (not
        while the supervisor restarts it, nor once draining)."""
        return self._running and not self._stopping

    async def run(self) -> None:
        """Claim and deliver until `drain` is called."""
        self._running = True
        try:
            await self._claim_loop()
        finally:
            self._running = False

    async def _claim_loop(self) -> None:
        while not self._stopping:
            free = self.settings.concurrency - len(self._inflight)
            rows: list[OutboxRow] = []
            # Clear before looking, also when every slot is busy: a finished delivery
            # sets it again. Left set, the wait below would return at once and this
            # loop would spin without ever letting the deliveries run.
            self._wake.clear()
            if free > 0:
                announced, self._announced = self._announced, False
                rows = await self.store.claim(
                    self.owner,
                    self.clock.now(),
                    self.settings.lease_seconds,
                    free,
                    exclude={*self._inflight, *self._handed},
                )
                if announced and not rows:
                    metrics.CLAIM_RETRIES.inc()
            for row in rows:
                self._start((row.conversation_id, row.target), row)
            if rows and len(rows) == free:
                continue
            await wait_for_wake(self._wake, self.clock, self.settings.poll_seconds)

    # --- items handed over by the router ----------------------------------------------

    def take_over(self, rows: Sequence[OutboxRow], lease_until: datetime) -> None:
        """Deliver these items, leased to this worker by the step that made them (in
        queue order); see `Router.attach_delivery`."""
        for row in rows:
            key = (row.conversation_id, row.target)
            queue = self._handed.get(key)
            if queue is None:
                queue = self._handed[key] = deque()
                if key not in self._inflight:
                    self._waiting.append(key)
            queue.append((row, lease_until))
        self._start_waiting()

    def left_to_claim(self, queues: set[Queue]) -> None:
        """A step made items it could not lease to this worker; they are claimed."""
        mine = {q for q in queues if q in self._inflight or q in self._handed}
        # Behind an item of ours: claimable once ours is gone (see `_done`).
        self._followers |= mine
        if queues - mine:
            self._wake.set()

    def _start_waiting(self) -> None:
        if self._stopping:
            return  # drain releases every lease of this worker
        while self._waiting and len(self._inflight) < self.settings.concurrency:
            key = self._waiting.popleft()
            if key in self._handed and key not in self._inflight:
                self._start(key, None)

    def _start(self, key: Queue, claimed: OutboxRow | None) -> None:
        name = f"deliver-{claimed.id}" if claimed else f"deliver-{key[1]}"
        task = asyncio.create_task(self._serve(key, claimed), name=name)
        self._inflight[key] = task
        self._idle.clear()
        task.add_done_callback(functools.partial(self._done, key, claimed is not None))

    def _done(self, key: Queue, claimed: bool, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(key, None)
        if key in self._handed:
            self._waiting.append(key)  # handed over while the task was ending
        if claimed or key in self._followers:
            # The queue's next item may now be its head.
            self._followers.discard(key)
            self._wake.set()
        self._start_waiting()
        if not self._inflight:
            self._idle.set()

    async def drain(self, timeout: float) -> None:
        """Stop claiming, let in-flight deliveries finish (up to `timeout`), release."""
        self._stopping = True
        self._wake.set()
        pending = list(self._inflight.values())
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout)
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
        self._handed.clear()
        self._waiting.clear()
        with contextlib.suppress(Exception):
            await self.ledger.close()
        await self.store.release_leases(self.owner)

    async def idle(self) -> None:
        """Wait until nothing is in flight (for tests)."""
        await self._idle.wait()

    # --- one queue ------------------------------------------------------------------

    async def _serve(self, key: Queue, claimed: OutboxRow | None) -> None:
        """Send `claimed`, then what was handed over for the queue, in order; stop at
        the first item that stays in the outbox and release the ones behind it."""
        sent = await self._deliver(claimed) if claimed is not None else True
        while sent and not self._stopping:
            queue = self._handed.get(key)
            if not queue:
                break
            row, lease_until = queue.popleft()
            left = (lease_until - self.clock.now()).total_seconds()
            if left < self.settings.lease_seconds * LEASE_MARGIN:
                queue.appendleft((row, lease_until))
                break
            sent = await self._deliver(row, handed=True)
        left_over = self._handed.pop(key, None)
        if left_over and not self._stopping:  # drain releases every lease at once
            # Claimed again, in order, once the item before them has left the outbox.
            self._followers.add(key)
            with contextlib.suppress(Exception):  # else their leases run out
                await self.ledger.release([row.id for row, _ in left_over])

    # --- one delivery ---------------------------------------------------------------

    async def _deliver(self, row: OutboxRow, *, handed: bool = False) -> bool:
        """Send one item; whether it left the outbox (sent, stale, dead-lettered)."""
        with bind_correlation(row.correlation_id):
            try:
                return await self._attempt(row, handed)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store failure while recording the result: the lease expires and the
                # row is tried again; never crash the worker.
                log.exception("delivery.unexpected_error", outbox_id=row.id, kind=row.kind)
                return False

    async def _attempt(self, row: OutboxRow, handed: bool) -> bool:
        now = self.clock.now()
        # An item handed over in memory was made by this instance a moment ago: the
        # router's copy of its conversation is as fresh as a read would be (a step can
        # commit between a read and the send either way). Claimed work is read.
        conv = self.router.cached_conversation(row.conversation_id) if handed else None
        if conv is None:
            conv = await self.store.get_conversation(row.conversation_id)
        if conv is None:
            await self.ledger.complete(row.id)
            return True
        try:
            adapter = self.resolve(conv, row)
        except LookupError:
            # A registry row naming an instance the configuration no longer has:
            # retrying cannot help.
            return await self._give_up(row, "permanent", "permanent: no such adapter")
        op = OPERATIONS[row.kind]
        max_age = (self.settings.max_age_seconds or {}).get(row.kind)
        if max_age is not None and (now - row.created_at).total_seconds() > max_age:
            return await self._give_up(row, "expired", "expired")
        if row.in_flight:
            # A previous attempt was interrupted mid-send (crash or lease loss).
            if op.follow_up_key and await self.store.seen(*op.follow_up_key(adapter, row)):
                await self.ledger.complete(row.id)
                return True
            if not adapter.resend_safe:
                return await self._give_up(
                    row, "ambiguous", "ambiguous: interrupted after sending"
                )
        if op.skip_stale and row.epoch != conv.epoch:
            metrics.DELIVERIES.labels(row.target, row.kind, "stale").inc()
            metrics.STALE_DROPPED.labels(row.kind).inc()
            await self.ledger.complete(row.id)
            return True
        if not adapter.resend_safe:
            await self.ledger.mark_in_flight(row.id)
        started = time.perf_counter()
        crash_point("delivery.before_send", row.kind)
        try:
            sent = await op.deliver(adapter, conv, row)
            if sent.echo_key is not None:
                await self.store.record_echo(*sent.echo_key)
        except AuthError as exc:
            self.report_health(adapter, Health.AUTH_FAILED, type(exc).__name__)
            if op.auth_is_final:
                return await self._give_up(row, "permanent", f"auth: {exc}")
            await self._retry(row, adapter, "auth", str(exc), None, slow=True)
            await self._tell_if_delayed(row, conv, now)
            return False
        except AmbiguousSendError as exc:
            if not adapter.resend_safe:
                return await self._give_up(row, "ambiguous", f"ambiguous: {exc}")
            await self._retry(row, adapter, "ambiguous", str(exc), None)
            await self._tell_if_delayed(row, conv, now)
            return False
        except PermanentError as exc:
            return await self._give_up(row, "permanent", f"permanent: {exc}")
        except TransientError as exc:
            await self._retry(row, adapter, "transient", str(exc), exc.retry_after)
            await self._tell_if_delayed(row, conv, now)
            return False
        except Exception as exc:  # an adapter bug must delay, not lose, the message
            log.warning("delivery.adapter_error", outbox_id=row.id, kind=row.kind, exc_info=True)
            await self._retry(row, adapter, "transient", f"{type(exc).__name__}: {exc}", None)
            return False
        elapsed = time.perf_counter() - started
        crash_point("delivery.after_send", row.kind)
        metrics.DELIVERY_DURATION.labels(row.target, row.kind).observe(elapsed)
        completed = False
        if sent.follow_up is not None:
            # The item leaves the outbox in the follow-up's own transaction.
            with contextlib.suppress(UnknownConversation):
                completed = await self.router.ingest_follow_up(sent.follow_up, row.id)
            crash_point("delivery.after_follow_up", row.kind)
        if not completed:
            await self.ledger.complete(row.id)
            crash_point("delivery.after_complete", row.kind)
        self.report_health(adapter, Health.CONNECTED, "")
        metrics.DELIVERIES.labels(row.target, row.kind, "sent").inc()
        _count_registration(row, "registered")
        metrics.RELAY_LATENCY.labels(row.target).observe(
            max(0.0, (self.clock.now() - row.created_at).total_seconds())
        )
        return True

    async def _retry(
        self,
        row: OutboxRow,
        adapter: Adapter,
        error_class: str,
        error: str,
        retry_after: float | None,
        *,
        slow: bool = False,
    ) -> None:
        s = self.settings
        attempt = row.attempts + 1
        delay = (
            s.backoff_cap_seconds
            if slow
            else backoff_seconds(
                attempt, s.backoff_base_seconds, s.backoff_cap_seconds, retry_after
            )
        )
        next_at = self.clock.now() + timedelta(seconds=delay)
        await self.store.reschedule(row.id, self.owner, next_at, error[:500])
        crash_point("delivery.after_reschedule", row.kind)
        metrics.DELIVERIES.labels(row.target, row.kind, "retry").inc()
        _count_registration(row, "retry")
        metrics.DELIVERY_ERRORS.labels(adapter.name, error_class).inc()
        log.info(
            "delivery.retry_scheduled",
            outbox_id=row.id,
            conversation_id=row.conversation_id,
            kind=row.kind,
            attempt=attempt,
            delay_seconds=round(delay, 3),
            error_class=error_class,
        )

    async def _tell_if_delayed(self, row: OutboxRow, conv: Conversation, now: datetime) -> None:
        """A desk outage: once the citizen's wait grows long, say their messages are kept.

        The inbox key names the handover, so however many items retry and however
        often, the citizen hears it once per handover.
        """
        if not OPERATIONS[row.kind].citizen_waits:
            return
        if (now - row.created_at).total_seconds() < self.settings.desk_delay_notice_seconds:
            return
        event = ev.DeliveryDelayed(
            conversation_id=row.conversation_id,
            source="delivery",
            source_id=f"delayed:{conv.id}:{conv.handover_no}",
            correlation_id=row.correlation_id,
            kind=row.kind,
        )
        with contextlib.suppress(UnknownConversation):
            await self.router.ingest(event)

    async def _give_up(self, row: OutboxRow, result: str, reason: str) -> bool:
        # The core is told first and the item dead-lettered after: a crash in between
        # leaves the item in the outbox, its next attempt gives up again and the repeated
        # event is a duplicate. The other order would lose the event (the citizen never
        # hears, the conversation waits for an answer that will not come).
        event = ev.DeliveryFailed(
            conversation_id=row.conversation_id,
            source="delivery",
            source_id=f"dead:{row.id}",
            correlation_id=row.correlation_id,
            epoch=row.epoch,
            kind=row.kind,
            reason=result,
            payload=row.payload,
        )
        with contextlib.suppress(UnknownConversation):
            await self.router.ingest(event)
        crash_point("delivery.after_failure_told", row.kind)
        now = self.clock.now()
        dead = await self.store.dead_letter(row.id, self.owner, reason, now)
        if dead is None:
            # Another worker holds the item now; it reaches the same verdict, and its
            # event is a duplicate of this one.
            return False
        crash_point("delivery.after_dead_letter", row.kind)
        metrics.DELIVERIES.labels(row.target, row.kind, result).inc()
        metrics.DEAD_LETTERS.labels(row.target, result).inc()
        _count_registration(row, "dead" if result == "permanent" else result)
        log.warning(
            "delivery.dead_lettered",
            outbox_id=row.id,
            conversation_id=row.conversation_id,
            kind=row.kind,
            reason=reason,
        )
        return True


def _count_registration(row: OutboxRow, result: str) -> None:
    if row.target is Target.REGISTRY:
        metrics.REGISTRATIONS.labels(row.tenant, row.kind, result).inc()
