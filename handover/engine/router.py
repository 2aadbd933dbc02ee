"""The router: applies inbound events to conversations and executes the effects.

For each event it takes the conversation's lock, reads the conversation, runs the pure
transition, turns the effects into one `Step` (transcript entries with their sequence
numbers, outbox items, timers, survey answers) and commits it together with the
event's inbox key. Only then does the caller acknowledge the sender.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from handover import control, metrics
from handover import events as ev
from handover.config.load import TenantConfig
from handover.control import effects as fx
from handover.engine.crashpoints import crash_point
from handover.engine.keyedlock import KeyedLock
from handover.engine.render import render_for
from handover.model import (
    Button,
    Content,
    Conversation,
    HandoverEvent,
    OutboxItem,
    Party,
    SurveyAnswer,
    Target,
    Timer,
    TranscriptEntry,
    thread_id,
)
from handover.sdk.contracts import ChannelCapabilities, IngestOutcome, IngestResult
from handover.sdk.errors import UnknownConversation, UnknownTenant
from handover.store.base import CommitResult, Step, Store, VersionConflict

log = structlog.get_logger("handover.engine.router")

#: How many transcript entries a desk thread receives at handover.
TRANSCRIPT_LIMIT = 200
_MAX_CONFLICT_RETRIES = 8
#: Context key (internal, see control.INTERNAL_CONTEXT_KEYS): [handover_no, ISO time]
#: of the latest queueing, so the wait can be measured when it ends.
QUEUED_AT = "queued_at"
#: Handover outcomes that end a wait in the desk's queue.
_WAIT_ENDS = frozenset({"answered", "abandoned", "timeout"})


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
    ) -> None:
        self.store = store
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
    ) -> Conversation:
        """Find or create the conversation of a citizen identity on a channel."""
        cfg = self.tenants.get(tenant)
        if cfg is None:
            raise UnknownTenant(tenant)
        lang = language if language in cfg.languages else cfg.default_language
        now = self.clock.now()
        candidate = Conversation(
            id=uuid.uuid4().hex,
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
        step = await _StepBuilder(self, conv, result.conversation, event, tenant).build(effects)
        crash_point("router.before_commit")
        if await self.store.commit(step) is CommitResult.DUPLICATE:
            return IngestResult(IngestOutcome.DUPLICATE, conv)
        crash_point("router.after_commit")
        self._after_commit(conv, step, effects, tenant)
        outcome = (
            IngestOutcome.APPLIED
            if result.outcome is control.Outcome.APPLIED
            else IngestOutcome.REFUSED
        )
        return IngestResult(outcome, step.conversation)

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


class _StepBuilder:
    """Turns the effects of one transition into the rows of one Step."""

    def __init__(
        self,
        router: Router,
        before: Conversation,
        after: Conversation,
        event: ev.Event,
        tenant: TenantConfig,
    ) -> None:
        self.router = router
        self.before = before
        self.conv = after
        self.event = event
        self.tenant = tenant
        self.now = router.clock.now()
        self.correlation_id = event.correlation_id or uuid.uuid4().hex[:16]
        self.transcript: list[TranscriptEntry] = []
        self.outbox: list[OutboxItem] = []
        self.timers: dict[str, Timer | None] = {}
        self.survey: SurveyAnswer | None = None
        self.events: list[HandoverEvent] = []
        self.last_citizen: TranscriptEntry | None = None
        self.choices: dict[str, str] | None = None
        self.caps = router.channel_caps(after.channel)

    async def build(self, effects: list[fx.Effect]) -> Step:
        if isinstance(self.event, ev.CitizenMessage):
            self.choices = {}  # an answer consumes the offered numbered choices
        for effect in effects:
            handler = _HANDLERS.get(type(effect))
            if handler is not None:
                await handler(self, effect)
        context = dict(self.conv.context)
        if self.choices is not None:
            if self.choices:
                context["choices"] = self.choices
            else:
                context.pop("choices", None)
        self.conv = self.conv.evolve(context=context, updated_at=self.now)
        return Step(
            conversation=self.conv,
            inbox_key=self.event.dedup_key,
            transcript=self.transcript,
            outbox=self.outbox,
            timers_set=[t for t in self.timers.values() if t is not None],
            timers_cancelled=[n for n, t in self.timers.items() if t is None],
            survey=self.survey,
            handover_events=self.events,
        )

    # --- helpers --------------------------------------------------------------------

    def _queue(self, target: Target, kind: str, payload: dict[str, Any]) -> None:
        self.outbox.append(
            OutboxItem(
                conversation_id=self.conv.id,
                target=target,
                kind=kind,
                payload=payload,
                epoch=self.conv.epoch,
                correlation_id=self.correlation_id,
            )
        )

    def _entry(
        self, party: Party, content: Content, message_id: str, sender: str | None = None
    ) -> TranscriptEntry:
        seq = self.conv.seq + 1
        self.conv = self.conv.evolve(seq=seq)
        entry = TranscriptEntry(
            conversation_id=self.conv.id,
            seq=seq,
            party=party,
            content=content,
            message_id=message_id,
            sender_name=sender,
            created_at=self.now,
            handover_no=self.conv.handover_no,
        )
        self.transcript.append(entry)
        return entry

    def _to_citizen(self, party: Party, content: Content, sender: str | None = None) -> None:
        rendered = render_for(content, self.caps)
        if rendered.choices:
            self.choices = rendered.choices
        entry = self._entry(party, rendered.content, uuid.uuid4().hex, sender)
        self._queue(Target.CITIZEN, "citizen.message", _entry_json(entry))

    def _text(self, key: str, language: str, params: Mapping[str, Any]) -> str:
        hours = self.tenant.hours.describe(language)
        phone = self.tenant.handover.phone or ""
        return self.tenant.catalogue.render(key, language, hours=hours, phone=phone, **params)

    def _handover_event(
        self,
        event: str,
        *,
        reason: str | None = None,
        outcome: str | None = None,
        wait: float | None = None,
    ) -> None:
        if reason is None:
            signal = self.conv.context.get("handover")
            reason = signal.get("reason") if isinstance(signal, Mapping) else None
        self.events.append(
            HandoverEvent(
                conversation_id=self.conv.id,
                tenant=self.conv.tenant,
                channel=self.conv.channel,
                handover_no=self.conv.handover_no,
                event=event,
                at=self.now,
                reason=reason,
                outcome=outcome,
                wait_seconds=wait,
            )
        )

    def _queued_for(self) -> float | None:
        """Seconds since this handover was queued at the desk (None if it never was)."""
        mark = self.conv.context.get(QUEUED_AT)
        if not (isinstance(mark, list) and len(mark) == 2 and mark[0] == self.conv.handover_no):
            return None
        waited: float = (self.now - datetime.fromisoformat(str(mark[1]))).total_seconds()
        return max(0.0, waited)

    @property
    def thread(self) -> str:
        return thread_id(self.conv.id, self.conv.handover_no)

    # --- one method per effect ------------------------------------------------------

    async def record_citizen(self, e: fx.RecordCitizen) -> None:
        self.last_citizen = self._entry(Party.CITIZEN, e.content, self.event.source_id)

    async def say(self, e: fx.Say) -> None:
        self._to_citizen(e.party, e.content, e.sender_name)

    async def notify(self, e: fx.Notify) -> None:
        lang = self.conv.language
        text = self._text(e.key, lang, e.params)
        buttons = tuple(
            Button(self._text(title, lang, {}) if title.endswith("_label") else title, payload)
            for title, payload in e.buttons
        )
        self._to_citizen(Party.SYSTEM, Content(text=text, buttons=buttons))

    async def show_control(self, e: fx.ShowControl) -> None:
        if self.caps.state_display:
            self._queue(
                Target.CITIZEN,
                "citizen.state",
                {
                    "state": e.state.value,
                    "agent_name": e.agent_name,
                    "queue_position": e.queue_position,
                    "estimated_wait_seconds": e.estimated_wait_seconds,
                },
            )

    async def ask_bot(self, e: fx.AskBot) -> None:
        message_id = self.last_citizen.message_id if self.last_citizen else self.event.source_id
        self._queue(
            Target.BOT,
            "bot.turn",
            {
                "message_id": message_id,
                "text": e.content.text,
                "payload": e.payload,
                "language": self.conv.language,
                "metadata": {
                    "tenant": self.conv.tenant,
                    "channel": self.conv.channel,
                    "language": self.conv.language,
                    "context": control.public_context(self.conv.context),
                },
            },
        )

    async def bot_handback(self, e: fx.BotHandback) -> None:
        # Every end of a human stretch hands back to the bot, so this marks the end.
        self._handover_event("ended", outcome=e.outcome)
        self._queue(Target.BOT, "bot.handback", {"outcome": e.outcome})

    async def count_handover(self, e: fx.CountHandover) -> None:
        wait = None
        if e.outcome == "queued":
            mark = [self.conv.handover_no, self.now.isoformat()]
            self.conv = self.conv.evolve(context={**self.conv.context, QUEUED_AT: mark})
        elif e.outcome in _WAIT_ENDS:
            wait = self._queued_for()
        self._handover_event(e.outcome, reason=e.reason, wait=wait)

    async def check_availability(self, e: fx.CheckAvailability) -> None:
        self._queue(Target.DESK, "desk.check", {"queue": e.signal.queue})

    async def open_thread(self, e: fx.OpenThread) -> None:
        earlier = await self.router.store.transcript(self.conv.id)
        entries = [*earlier, *self.transcript][-TRANSCRIPT_LIMIT:]
        context = control.public_context(self.conv.context)
        self._queue(
            Target.DESK,
            "desk.open",
            {
                "thread": self.thread,
                "signal": e.signal.to_json(),
                "language": self.conv.language,
                "context": context,
                "transcript": [_entry_json(x) for x in entries],
                "queued_at": self.now.isoformat(),
            },
        )

    async def transfer(self, e: fx.Transfer) -> None:
        self._queue(
            Target.CITIZEN,
            "citizen.transfer",
            {"handover_no": self.conv.handover_no, "signal": e.signal.to_json()},
        )

    async def to_desk(self, e: fx.ToDesk) -> None:
        if self.last_citizen is not None:
            self._queue(
                Target.DESK,
                "desk.message",
                {"thread": self.thread, "message": _entry_json(self.last_citizen)},
            )

    async def desk_note(self, e: fx.DeskNote) -> None:
        text = self._text(e.key, self.tenant.default_language, {})
        self.transcript.append(
            TranscriptEntry(
                conversation_id=self.conv.id,
                seq=0,
                party=Party.SYSTEM,
                content=Content(text=text),
                message_id=uuid.uuid4().hex,
                created_at=self.now,
                handover_no=self.conv.handover_no,
            )
        )
        self._queue(Target.DESK, "desk.note", {"thread": self.thread, "text": text})

    async def close_thread(self, e: fx.CloseThread) -> None:
        self._queue(Target.DESK, "desk.close", {"thread": self.thread, "reason": e.reason})

    async def start_timer(self, e: fx.StartTimer) -> None:
        due = self.now + timedelta(seconds=e.seconds)
        self.timers[e.name] = Timer(self.conv.id, e.name, due, self.conv.epoch)

    async def cancel_timer(self, e: fx.CancelTimer) -> None:
        self.timers[e.name] = None

    async def record_survey(self, e: fx.RecordSurvey) -> None:
        self.survey = SurveyAnswer(
            conversation_id=self.conv.id,
            tenant=self.conv.tenant,
            channel=self.conv.channel,
            handover_no=self.conv.handover_no,
            score=e.score,
            comment=e.comment,
            outcome=e.outcome,
            answered_at=self.now,
        )


def _entry_json(entry: TranscriptEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "message_id": entry.message_id,
        "party": entry.party.value,
        "sender_name": entry.sender_name,
        "content": entry.content.to_json(),
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
    }


_HANDLERS: dict[type, Callable[[_StepBuilder, Any], Any]] = {
    fx.RecordCitizen: _StepBuilder.record_citizen,
    fx.Say: _StepBuilder.say,
    fx.Notify: _StepBuilder.notify,
    fx.ShowControl: _StepBuilder.show_control,
    fx.AskBot: _StepBuilder.ask_bot,
    fx.BotHandback: _StepBuilder.bot_handback,
    fx.CheckAvailability: _StepBuilder.check_availability,
    fx.OpenThread: _StepBuilder.open_thread,
    fx.Transfer: _StepBuilder.transfer,
    fx.ToDesk: _StepBuilder.to_desk,
    fx.DeskNote: _StepBuilder.desk_note,
    fx.CloseThread: _StepBuilder.close_thread,
    fx.StartTimer: _StepBuilder.start_timer,
    fx.CancelTimer: _StepBuilder.cancel_timer,
    fx.RecordSurvey: _StepBuilder.record_survey,
    fx.CountHandover: _StepBuilder.count_handover,
}


def entry_from_json(conversation_id: str, data: Mapping[str, Any]) -> TranscriptEntry:
    """The inverse of the transcript JSON carried in outbox payloads."""
    created = data.get("created_at")
    return TranscriptEntry(
        conversation_id=conversation_id,
        seq=int(data["seq"]),
        party=Party(data["party"]),
        content=Content.from_json(data["content"]),
        message_id=str(data["message_id"]),
        sender_name=data.get("sender_name"),
        created_at=datetime.fromisoformat(created) if created else None,
    )
