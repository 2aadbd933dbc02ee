"""The router: applies inbound events to conversations and executes the effects.

For each event it takes the conversation's lock, reads the conversation, runs the pure
transition, turns the effects into one `Step` (`handover.engine.steps`: transcript
entries with their sequence numbers, outbox items, timers, survey answers) and commits
it together with the event's inbox key. Only then does the caller acknowledge the
sender. A concurrent change by another instance (a version conflict) is read again and
the event decided anew.

Two things spare the store work per event. Conversations are read through a small
cache of what this router last committed (`ConversationCache`): a step computed from a
stale copy fails its version check and is decided again from the store, and an event
that would be dropped is checked against the store first. And once a delivery worker
attached itself (`attach_delivery`), each step also removes the items the worker
delivered meanwhile and leases the new items it can deliver at once, which the router
hands to it in memory: no claim, no separate completion (see `handover.engine.handoff`).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from handover import control, metrics
from handover import events as ev
from handover.config.load import AdapterInstance, TenantConfig
from handover.control import effects as fx
from handover.engine.crashpoints import crash_point
from handover.engine.handoff import OutboxLedger
from handover.engine.keyedlock import KeyedLock
from handover.engine.steps import StepBuilder
from handover.model import Conversation, OutboxRow, Target
from handover.sdk.contracts import ChannelCapabilities, IngestOutcome, IngestResult
from handover.sdk.errors import UnknownConversation, UnknownTenant
from handover.store.base import CommitResult, Step, Store, VersionConflict

log = structlog.get_logger("handover.engine.router")

_MAX_CONFLICT_RETRIES = 8
#: Conversations the cache keeps: the ones in active use, not every open one (memory
#: per idle conversation matters with many thousands of them).
CACHED_CONVERSATIONS = 1024


class DeliveryHandoff(Protocol):
    """What the router needs of the delivery worker (see `Router.attach_delivery`)."""

    ledger: OutboxLedger
    lease_seconds: float

    @property
    def accepting(self) -> bool:
        """Whether the worker takes items over now (its loop runs, it is not draining)."""

    def take_over(self, rows: Sequence[OutboxRow], lease_until: datetime) -> None:
        """Deliver these items, leased to the worker by the step that made them."""

    def left_to_claim(self, queues: set[tuple[str, Target]]) -> None:
        """A step made items of these queues that it could not lease (an earlier item
        is still in the queue): they are for whichever worker claims them."""


class _FromCache(Exception):
    """An event would be dropped on the strength of a cached conversation: re-read."""


class ConversationCache:
    """The conversations this router committed last, least recently used first out."""

    def __init__(self, size: int = CACHED_CONVERSATIONS) -> None:
        self._size = size
        self._items: OrderedDict[str, Conversation] = OrderedDict()

    def get(self, conversation_id: str) -> Conversation | None:
        conv = self._items.get(conversation_id)
        if conv is not None:
            self._items.move_to_end(conversation_id)
        return conv

    def put(self, conv: Conversation) -> None:
        self._items[conv.id] = conv
        self._items.move_to_end(conv.id)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        self._items.pop(conversation_id, None)


def policy_of(tenant: TenantConfig) -> control.Policy:
    h, s = tenant.handover, tenant.survey
    return control.Policy(
        check_availability=h.check_availability,
        queue_timeout_seconds=h.queue_timeout_seconds,
        queue_fallback=h.queue_fallback,
        agent_inactivity_seconds=h.agent_inactivity_seconds,
        citizen_inactivity_seconds=h.citizen_inactivity_seconds,
        bot_failure=h.bot_failure,
        max_bot_escalations=h.max_bot_escalations,
        survey_enabled=s.enabled,
        survey_timeout_seconds=s.timeout_seconds,
        survey_ask_comment=s.ask_comment,
        consent=h.consent,
        consent_timeout_seconds=h.consent_timeout_seconds,
        callback_enabled=tenant.callback.enabled and bool(tenant.registries),
        callback_offer_when=frozenset(tenant.callback.offer_when),
        callback_timeout_seconds=tenant.callback.step_timeout_seconds,
        callback_ask_name=tenant.callback.ask_name,
    )


class Router:
    """The single routing authority: every change to a conversation goes through here."""

    def __init__(
        self,
        store: Store,
        tenants: Mapping[str, TenantConfig],
        channel_caps: Callable[[str], ChannelCapabilities],
        clock: Any,
        on_outbox: Callable[[], None] = lambda: None,
        on_timers: Callable[[], None] = lambda: None,
        adapters: Mapping[str, AdapterInstance] | None = None,
    ) -> None:
        self.store = store
        #: The configured adapter instances: channel types and registration targets.
        self.adapters: Mapping[str, AdapterInstance] = adapters or {}
        self.tenants = tenants
        self.channel_caps = channel_caps
        self.clock = clock
        self.on_outbox = on_outbox
        self.on_timers = on_timers
        self._locks = KeyedLock()
        self._policies = {name: policy_of(t) for name, t in tenants.items()}
        self._cache = ConversationCache()
        self._delivery: DeliveryHandoff | None = None

    def cached_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation as this router last read or committed it (None when not
        cached): for work this instance just made, no read is needed."""
        return self._cache.get(conversation_id)

    def attach_delivery(self, delivery: DeliveryHandoff) -> None:
        """From now on steps carry the worker's completions and lease it the new items
        it can deliver at once (called by the worker it is given to)."""
        self._delivery = delivery

    # --- conversations --------------------------------------------------------------

    async def resolve_conversation(
        self,
        tenant: str,
        channel: str,
        channel_key: str,
        language: str | None = None,
        context: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> Conversation:
        """Find or create the conversation of a citizen identity on a channel; a new
        one gets `conversation_id` (a random id by default)."""
        cfg = self.tenants.get(tenant)
        if cfg is None:
            raise UnknownTenant(tenant)
        lang = language if language in cfg.languages else cfg.default_language
        now = self.clock.now()
        candidate = Conversation(
            id=conversation_id or uuid.uuid4().hex,
            tenant=tenant,
            channel=channel,
            channel_key=channel_key,
            language=lang,
            context=dict(context or {}),
            created_at=now,
            updated_at=now,
        )
        return await self.store.resolve_conversation(candidate)

    # --- events ---------------------------------------------------------------------

    async def ingest(self, event: ev.Event) -> IngestResult:
        """Apply one event durably. Raises UnknownConversation, or StoreError."""
        result, _ = await self._ingest(event, ())
        return result

    async def ingest_follow_up(self, event: ev.Event, delivered: int) -> bool:
        """Apply a delivery's result (a bot reply, the desk's answer) and, in the same
        transaction, remove the outbox item `delivered` that asked for it. Returns
        whether that removal was committed; when not (the event was a duplicate or was
        dropped), the worker completes the item itself. Raises as `ingest` does."""
        _, completed = await self._ingest(event, (delivered,))
        return completed

    async def _ingest(self, event: ev.Event, completes: Sequence[int]) -> tuple[IngestResult, bool]:
        name = type(event).__name__
        async with self._locks.hold(event.conversation_id):
            fresh = False
            for _ in range(_MAX_CONFLICT_RETRIES):
                try:
                    result, committed = await self._apply(event, fresh, completes)
                except VersionConflict:
                    # Another writer changed the conversation (another instance, an
                    # erasure), maybe behind the cached copy: read it again.
                    metrics.VERSION_CONFLICTS.inc()
                    self._cache.forget(event.conversation_id)
                    fresh = True
                    continue
                except _FromCache:
                    # The cached copy cannot decide this event: read it again.
                    self._cache.forget(event.conversation_id)
                    fresh = True
                    continue
                metrics.INBOUND_EVENTS.labels(name, result.outcome).inc()
                return result, committed
        raise VersionConflict(f"conversation kept changing under {name}")

    async def _conversation(self, conversation_id: str, fresh: bool) -> tuple[Conversation, bool]:
        """The conversation, and whether it came from the cache."""
        conv = None if fresh else self._cache.get(conversation_id)
        if conv is not None:
            return conv, True
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise UnknownConversation(conversation_id)
        self._cache.put(conv)
        return conv, False

    async def _apply(
        self, event: ev.Event, fresh: bool, completes: Sequence[int]
    ) -> tuple[IngestResult, bool]:
        conv, cached = await self._conversation(event.conversation_id, fresh)
        tenant = self.tenants[conv.tenant]
        now = self.clock.now()
        event = self._map_choice(conv, event)
        if isinstance(event, ev.TimerFired) and not await self._timer_is_live(event):
            return await self._drop(conv, event, IngestOutcome.STALE, "timer no longer set"), False
        caps = self.channel_caps(conv.channel)
        env = control.Env(
            now=now,
            within_hours=tenant.hours.is_open(now),
            transfer=caps.transfer,
            survey=not caps.spoken,
            spoken=caps.spoken,
        )
        result = control.transition(conv, event, self._policies[conv.tenant], env)
        if result.outcome is not control.Outcome.APPLIED and not result.effects:
            if cached:
                raise _FromCache  # never drop an event for what an old copy says
            outcome = (
                IngestOutcome.STALE
                if result.outcome is control.Outcome.STALE
                else IngestOutcome.REFUSED
            )
            if isinstance(event, ev.TimerFired):
                # Forget the timer, or it would fire forever.
                return await self._commit_timer_drop(conv, event, outcome), False
            return await self._drop(conv, event, outcome, result.reason), False
        effects: list[fx.Effect] = list(result.effects)
        if isinstance(event, ev.TimerFired):
            effects.insert(0, fx.CancelTimer(event.name))
        builder = StepBuilder(
            self.store, caps, self.clock.now(), result.conversation, event, tenant,
            adapters=self.adapters, channel_type=self._channel_type(conv.channel),
        )
        step = await builder.build(effects)
        if not await self._commit(step, completes):
            return IngestResult(IngestOutcome.DUPLICATE, conv), False
        self._after_commit(conv, step, effects, tenant)
        for step_reached in builder.callbacks:
            if step_reached != "registered":  # counted per delivery in REGISTRATIONS
                metrics.CALLBACK_REQUESTS.labels(
                    tenant.id, self._channel_type(conv.channel), step_reached
                ).inc()
        outcome = (
            IngestOutcome.APPLIED
            if result.outcome is control.Outcome.APPLIED
            else IngestOutcome.REFUSED
        )
        return IngestResult(outcome, step.conversation), True

    async def _commit(self, step: Step, completes: Sequence[int]) -> bool:
        """Commit a step with the worker's waiting completions and new leases; False
        for a duplicate. Raises VersionConflict or StoreError (nothing written)."""
        delivery = self._delivery
        taken = []
        if delivery is not None:
            taken = delivery.ledger.take()
            step.completed = [*completes, *(entry.row_id for entry in taken)]
            step.lease_owner = delivery.ledger.owner
            if delivery.accepting:
                step.lease_until = self.clock.now() + timedelta(seconds=delivery.lease_seconds)
        crash_point("router.before_commit")
        try:
            result = await self.store.commit(step)
        except BaseException:
            if delivery is not None:
                delivery.ledger.settle(taken, committed=False)
            raise
        applied = result is CommitResult.APPLIED
        if delivery is not None:
            delivery.ledger.settle(taken, committed=applied)
        if not applied:
            return False
        # The store wrote version + 1 (an inserted conversation: version 1).
        self._cache.put(step.conversation.evolve(version=step.conversation.version + 1))
        crash_point("router.after_commit")
        return True

    def _channel_type(self, channel: str) -> str:
        """The adapter type of a channel instance (a bounded label, unlike nothing)."""
        instance = self.adapters.get(channel)
        return instance.type if instance is not None else channel

    def _map_choice(self, conv: Conversation, event: ev.Event) -> ev.Event:
        """A bare number answering numbered choices becomes that button's payload."""
        if not isinstance(event, ev.CitizenMessage) or event.payload is not None:
            return event
        choices = conv.context.get("choices")
        if isinstance(choices, dict):
            payload = choices.get(event.content.text.strip())
            if isinstance(payload, str):
                return replace(event, payload=payload)
        return event

    async def _timer_is_live(self, event: ev.TimerFired) -> bool:
        timer = await self.store.timer(event.conversation_id, event.name)
        return timer is not None and timer.epoch == event.epoch and timer.due_at <= self.clock.now()

    async def _drop(
        self, conv: Conversation, event: ev.Event, outcome: IngestOutcome, reason: str
    ) -> IngestResult:
        if await self.store.seen(*event.dedup_key):
            return IngestResult(IngestOutcome.DUPLICATE, conv)
        await self.store.record_echo(*event.dedup_key)
        if outcome is IngestOutcome.STALE:
            metrics.STALE_DROPPED.labels(type(event).__name__).inc()
        log.info(
            "router.event_dropped",
            conversation_id=conv.id,
            event_type=type(event).__name__,
            outcome=outcome.value,
            reason=reason,
        )
        return IngestResult(outcome, conv)

    async def _commit_timer_drop(
        self, conv: Conversation, event: ev.TimerFired, outcome: IngestOutcome
    ) -> IngestResult:
        step = Step(conversation=conv, inbox_key=event.dedup_key, timers_cancelled=[event.name])
        if await self.store.commit(step) is CommitResult.DUPLICATE:
            return IngestResult(IngestOutcome.DUPLICATE, conv)
        self._cache.put(conv.evolve(version=conv.version + 1))
        metrics.STALE_DROPPED.labels("TimerFired").inc()
        return IngestResult(outcome, conv)

    def _after_commit(
        self, before: Conversation, step: Step, effects: list[fx.Effect], tenant: TenantConfig
    ) -> None:
        after = step.conversation
        if after.state is not before.state:
            metrics.TRANSITIONS.labels(before.state.value, after.state.value).inc()
            log.info(
                "conversation.state_changed",
                conversation_id=after.id,
                tenant=after.tenant,
                from_state=before.state.value,
                to_state=after.state.value,
                epoch=after.epoch,
            )
        for effect in effects:
            if isinstance(effect, fx.CountHandover):
                metrics.HANDOVERS.labels(tenant.id, effect.outcome).inc()
        for event in step.handover_events:
            if event.wait_seconds is not None:
                metrics.QUEUE_WAIT.labels(tenant.id, event.event).observe(event.wait_seconds)
        if step.survey is not None:
            score = step.survey.score
            if score is not None:
                metrics.SURVEY_SCORES.labels(tenant.id).observe(score)
            metrics.SURVEY_ANSWERS.labels(
                tenant.id, after.channel, metrics.nps_category(score)
            ).inc()
        if step.outbox:
            self._hand_over(step)
        if step.timers_set:
            self.on_timers()

    def _hand_over(self, step: Step) -> None:
        delivery = self._delivery
        if delivery is None or step.lease_until is None:
            self.on_outbox()  # nothing leased: for the claim path
            return
        if step.leased:
            delivery.take_over(step.leased, step.lease_until)
        leased = {row.id for row in step.leased}
        if len(leased) < len(step.outbox):
            # Items are assigned ids in order; those not leased wait behind an earlier
            # item of their queue (or for another instance's connection).
            queues = {(o.conversation_id, o.target) for o in step.outbox}
            queues -= {(r.conversation_id, r.target) for r in step.leased}
            delivery.left_to_claim(queues)
