"""The router: applies inbound events to conversations and executes the effects.

For each event it takes the conversation's lock, reads the conversation, runs the pure
transition, turns the effects into one `Step` (`handover.engine.steps`: transcript
entries with their sequence numbers, outbox items, timers, survey answers) and commits
it together with the event's inbox key. Only then does the caller acknowledge the
sender. A concurrent change by another instance (a version conflict) is read again and
the event decided anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import structlog

from handover import control, metrics
from handover import events as ev
from handover.config.load import AdapterInstance, TenantConfig
from handover.control import effects as fx
from handover.engine.crashpoints import crash_point
from handover.engine.keyedlock import KeyedLock
from handover.engine.steps import StepBuilder
from handover.model import Conversation
from handover.sdk.contracts import ChannelCapabilities, IngestOutcome, IngestResult
from handover.sdk.errors import UnknownConversation, UnknownTenant
from handover.store.base import CommitResult, Step, Store, VersionConflict

log = structlog.get_logger("handover.engine.router")

_MAX_CONFLICT_RETRIES = 8


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
        name = type(event).__name__
        async with self._locks.hold(event.conversation_id):
            for _ in range(_MAX_CONFLICT_RETRIES):
                try:
                    result = await self._apply(event)
                except VersionConflict:
                    # Another instance changed the conversation; read it again.
                    metrics.VERSION_CONFLICTS.inc()
                    continue
                metrics.INBOUND_EVENTS.labels(name, result.outcome).inc()
                return result
        raise VersionConflict(f"conversation kept changing under {name}")

    async def _apply(self, event: ev.Event) -> IngestResult:
        conv = await self.store.get_conversation(event.conversation_id)
        if conv is None:
            raise UnknownConversation(event.conversation_id)
        tenant = self.tenants[conv.tenant]
        now = self.clock.now()
        event = self._map_choice(conv, event)
        if isinstance(event, ev.TimerFired) and not await self._timer_is_live(event):
            return await self._drop(conv, event, IngestOutcome.STALE, "timer no longer set")
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
            outcome = (
                IngestOutcome.STALE
                if result.outcome is control.Outcome.STALE
                else IngestOutcome.REFUSED
            )
            if isinstance(event, ev.TimerFired):
                # Forget the timer, or it would fire forever.
                return await self._commit_timer_drop(conv, event, outcome)
            return await self._drop(conv, event, outcome, result.reason)
        effects: list[fx.Effect] = list(result.effects)
        if isinstance(event, ev.TimerFired):
            effects.insert(0, fx.CancelTimer(event.name))
        builder = StepBuilder(
            self.store, caps, self.clock.now(), result.conversation, event, tenant,
            adapters=self.adapters, channel_type=self._channel_type(conv.channel),
        )
        step = await builder.build(effects)
        crash_point("router.before_commit")
        if await self.store.commit(step) is CommitResult.DUPLICATE:
            return IngestResult(IngestOutcome.DUPLICATE, conv)
        crash_point("router.after_commit")
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
        return IngestResult(outcome, step.conversation)

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
            self.on_outbox()
        if step.timers_set:
            self.on_timers()
