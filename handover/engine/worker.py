"""The outbox worker: delivers outbox items in order per (conversation, target).

It leases the head item of each ready queue, sends it through the target adapter, and
on success removes it; results that are themselves inbound events (a bot's reply, the
desk's availability) are ingested durably *before* the item is removed, so a crash in
between is recovered without asking the target twice. What a send of each kind does
is the kind's operation in `handover.engine.outbox`; the worker owns the order, leases,
retries, expiry and dead letters around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from handover import events as ev
from handover import metrics
from handover.clock import wait_for_wake
from handover.engine.crashpoints import crash_point
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
        self._inflight: dict[tuple[str, Target], asyncio.Task[None]] = {}
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    # --- lifecycle ------------------------------------------------------------------

    def wake(self) -> None:
        """New work was committed; look for it now rather than at the next poll."""
        self._announced = True
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver until `drain` is called."""
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
                    exclude=set(self._inflight),
                )
                if announced and not rows:
                    metrics.CLAIM_RETRIES.inc()
            for row in rows:
                key = (row.conversation_id, row.target)
                task = asyncio.create_task(self._deliver(row), name=f"deliver-{row.id}")
                self._inflight[key] = task
                self._idle.clear()
                task.add_done_callback(functools.partial(self._done, key))
            if rows and len(rows) == free:
                continue
            await wait_for_wake(self._wake, self.clock, self.settings.poll_seconds)

    def _done(self, key: tuple[str, Target], _task: asyncio.Task[None]) -> None:
        self._inflight.pop(key, None)
        if not self._inflight:
            self._idle.set()
        # The queue's next item may now be its head.
        self._wake.set()

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
        await self.store.release_leases(self.owner)

    async def idle(self) -> None:
        """Wait until nothing is in flight (for tests)."""
        await self._idle.wait()

    # --- one delivery ---------------------------------------------------------------

    async def _deliver(self, row: OutboxRow) -> None:
        with bind_correlation(row.correlation_id):
            try:
                await self._attempt(row)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store failure while recording the result: the lease expires and the
                # row is tried again; never crash the worker.
                log.exception("delivery.unexpected_error", outbox_id=row.id, kind=row.kind)

    async def _attempt(self, row: OutboxRow) -> None:
        now = self.clock.now()
        conv = await self.store.get_conversation(row.conversation_id)
        if conv is None:
            await self.store.complete(row.id, self.owner)
            return
        try:
            adapter = self.resolve(conv, row)
        except LookupError:
            # A registry row naming an instance the configuration no longer has:
            # retrying cannot help.
            await self._give_up(row, "permanent", "permanent: no such adapter")
            return
        op = OPERATIONS[row.kind]
        max_age = (self.settings.max_age_seconds or {}).get(row.kind)
        if max_age is not None and (now - row.created_at).total_seconds() > max_age:
            await self._give_up(row, "expired", "expired")
            return
        if row.in_flight:
            # A previous attempt was interrupted mid-send (crash or lease loss).
            if op.follow_up_key and await self.store.seen(*op.follow_up_key(adapter, row)):
                await self.store.complete(row.id, self.owner)
                return
            if not adapter.resend_safe:
                await self._give_up(row, "ambiguous", "ambiguous: interrupted after sending")
                return
        if op.skip_stale and row.epoch != conv.epoch:
            metrics.DELIVERIES.labels(row.target, row.kind, "stale").inc()
            metrics.STALE_DROPPED.labels(row.kind).inc()
            await self.store.complete(row.id, self.owner)
            return
        if not adapter.resend_safe:
            await self.store.mark_in_flight(row.id, self.owner)
        started = time.perf_counter()
        crash_point("delivery.before_send", row.kind)
        try:
            sent = await op.deliver(adapter, conv, row)
            if sent.echo_key is not None:
                await self.store.record_echo(*sent.echo_key)
        except AuthError as exc:
            self.report_health(adapter, Health.AUTH_FAILED, type(exc).__name__)
            if op.auth_is_final:
                await self._give_up(row, "permanent", f"auth: {exc}")
                return
            await self._retry(row, adapter, "auth", str(exc), None, slow=True)
            await self._tell_if_delayed(row, conv, now)
            return
        except AmbiguousSendError as exc:
            if adapter.resend_safe:
                await self._retry(row, adapter, "ambiguous", str(exc), None)
                await self._tell_if_delayed(row, conv, now)
            else:
                await self._give_up(row, "ambiguous", f"ambiguous: {exc}")
            return
        except PermanentError as exc:
            await self._give_up(row, "permanent", f"permanent: {exc}")
            return
        except TransientError as exc:
            await self._retry(row, adapter, "transient", str(exc), exc.retry_after)
            await self._tell_if_delayed(row, conv, now)
            return
        except Exception as exc:  # an adapter bug must delay, not lose, the message
            log.warning("delivery.adapter_error", outbox_id=row.id, kind=row.kind, exc_info=True)
            await self._retry(row, adapter, "transient", f"{type(exc).__name__}: {exc}", None)
            return
        elapsed = time.perf_counter() - started
        crash_point("delivery.after_send", row.kind)
        metrics.DELIVERY_DURATION.labels(row.target, row.kind).observe(elapsed)
        if sent.follow_up is not None:
            with contextlib.suppress(UnknownConversation):
                await self.router.ingest(sent.follow_up)
            crash_point("delivery.after_follow_up", row.kind)
        await self.store.complete(row.id, self.owner)
        crash_point("delivery.after_complete", row.kind)
        self.report_health(adapter, Health.CONNECTED, "")
        metrics.DELIVERIES.labels(row.target, row.kind, "sent").inc()
        _count_registration(row, "registered")
        metrics.RELAY_LATENCY.labels(row.target).observe(
            max(0.0, (self.clock.now() - row.created_at).total_seconds())
        )

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

    async def _give_up(self, row: OutboxRow, result: str, reason: str) -> None:
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
            return
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


def _count_registration(row: OutboxRow, result: str) -> None:
    if row.target is Target.REGISTRY:
        metrics.REGISTRATIONS.labels(row.tenant, row.kind, result).inc()
