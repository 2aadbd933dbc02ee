"""The step builder: turns the effects of one transition into the rows of one Step.

A Step is what the router commits in one transaction with the event's inbox key: the
conversation as it is now, transcript entries with their sequence numbers, typed outbox
items (`handover.engine.outbox`), timers set and cancelled, a survey answer and
handover events.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from handover import control
from handover import events as ev
from handover.config.load import AdapterInstance, TenantConfig
from handover.control import effects as fx
from handover.engine import registrations
from handover.engine.outbox import (
    BotHandbackPayload,
    BotTurnPayload,
    CitizenMessagePayload,
    CitizenStatePayload,
    CitizenTransferPayload,
    DeskCheckPayload,
    DeskClosePayload,
    DeskMessagePayload,
    DeskNotePayload,
    DeskOpenPayload,
    OutboxPayload,
    outbox_item,
)
from handover.engine.render import render_for
from handover.model import (
    Button,
    Content,
    Conversation,
    HandoverEvent,
    OutboxItem,
    Party,
    SurveyAnswer,
    Timer,
    TranscriptEntry,
    thread_id,
)
from handover.sdk.contracts import ChannelCapabilities
from handover.store.base import Step, Store

#: How many transcript entries a desk thread receives at handover.
TRANSCRIPT_LIMIT = 200
#: Context key (internal, see control.INTERNAL_CONTEXT_KEYS): [handover_no, ISO time]
#: of the latest queueing, so the wait can be measured when it ends.
QUEUED_AT = "queued_at"
#: Handover outcomes that end a wait in the desk's queue.
_WAIT_ENDS = frozenset({"answered", "abandoned", "timeout"})


class StepBuilder:
    """Turns the effects of one transition into the rows of one Step.

    `before` and `after` are the conversation before and after the transition; `store`
    is read for the transcript a new desk thread receives.
    """

    def __init__(
        self,
        store: Store,
        caps: ChannelCapabilities,
        now: datetime,
        after: Conversation,
        event: ev.Event,
        tenant: TenantConfig,
        *,
        adapters: Mapping[str, AdapterInstance] | None = None,
        channel_type: str = "",
    ) -> None:
        self.store = store
        #: The configured adapter instances (registration targets are looked up here).
        self.adapters: Mapping[str, AdapterInstance] = adapters or {}
        #: The adapter type of the conversation's channel (`web`, `whatsapp`...).
        self.channel_type = channel_type or after.channel
        #: Callback request outcomes counted in this step (for the metrics).
        self.callbacks: list[str] = []
        self.conv = after
        self.event = event
        self.tenant = tenant
        self.now = now
        self.correlation_id = event.correlation_id or uuid.uuid4().hex[:16]
        self.transcript: list[TranscriptEntry] = []
        self.outbox: list[OutboxItem] = []
        self.timers: dict[str, Timer | None] = {}
        self.survey: SurveyAnswer | None = None
        self.events: list[HandoverEvent] = []
        self.last_citizen: TranscriptEntry | None = None
        self.choices: dict[str, str] | None = None
        self.caps = caps

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

    def _queue(self, payload: OutboxPayload) -> None:
        self.outbox.append(
            outbox_item(self.conv.id, payload, self.conv.epoch, self.correlation_id)
        )

    def queue(self, payload: OutboxPayload) -> None:
        """Add an outbox item to the step."""
        self._queue(payload)

    def notify_text(self, key: str, params: Mapping[str, Any]) -> None:
        """A system text from the catalogue for the citizen, in their language."""
        self._to_citizen(Party.SYSTEM, Content(text=self._text(key, self.conv.language, params)))

    def handover_event(self, event: str, *, reason: str | None = None) -> None:
        """A handover event for the report (`HandoverEvent`)."""
        self._handover_event(event, reason=reason)

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
        self._queue(CitizenMessagePayload(entry))

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
                CitizenStatePayload(
                    state=e.state,
                    agent_name=e.agent_name,
                    queue_position=e.queue_position,
                    estimated_wait_seconds=e.estimated_wait_seconds,
                )
            )

    async def ask_bot(self, e: fx.AskBot) -> None:
        message_id = self.last_citizen.message_id if self.last_citizen else self.event.source_id
        self._queue(
            BotTurnPayload(
                message_id=message_id,
                text=e.content.text,
                payload=e.payload,
                language=self.conv.language,
                metadata={
                    "tenant": self.conv.tenant,
                    "channel": self.conv.channel,
                    "language": self.conv.language,
                    "context": control.public_context(self.conv.context),
                },
            )
        )

    async def bot_handback(self, e: fx.BotHandback) -> None:
        # Every end of a human stretch hands back to the bot, so this marks the end.
        self._handover_event("ended", outcome=e.outcome)
        self._queue(BotHandbackPayload(outcome=e.outcome))

    async def count_handover(self, e: fx.CountHandover) -> None:
        wait = None
        if e.outcome in ("queued", "transferring"):
            registrations.mark_stretch_start(self)
        if e.outcome == "queued":
            mark = [self.conv.handover_no, self.now.isoformat()]
            self.conv = self.conv.evolve(context={**self.conv.context, QUEUED_AT: mark})
        elif e.outcome in _WAIT_ENDS:
            wait = self._queued_for()
        self._handover_event(e.outcome, reason=e.reason, wait=wait)

    async def check_availability(self, e: fx.CheckAvailability) -> None:
        self._queue(DeskCheckPayload(queue=e.signal.queue))

    async def open_thread(self, e: fx.OpenThread) -> None:
        # The latest entries, however long the conversation: the desk shows the end.
        earlier = await self.store.transcript_tail(self.conv.id, TRANSCRIPT_LIMIT)
        entries = [*earlier, *self.transcript][-TRANSCRIPT_LIMIT:]
        self._queue(
            DeskOpenPayload(
                thread=self.thread,
                signal=e.signal,
                language=self.conv.language,
                context=control.public_context(self.conv.context),
                transcript=tuple(entries),
                queued_at=self.now,
            )
        )

    async def transfer(self, e: fx.Transfer) -> None:
        self._queue(CitizenTransferPayload(handover_no=self.conv.handover_no, signal=e.signal))

    async def to_desk(self, e: fx.ToDesk) -> None:
        if self.last_citizen is not None:
            self._queue(DeskMessagePayload(thread=self.thread, message=self.last_citizen))

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
        self._queue(DeskNotePayload(thread=self.thread, text=text))

    async def close_thread(self, e: fx.CloseThread) -> None:
        self._queue(DeskClosePayload(thread=self.thread, reason=e.reason))

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


#: The step builder's method for each effect type; effects not listed write nothing.
_HANDLERS: dict[type, Callable[[StepBuilder, Any], Awaitable[None]]] = {
    fx.RecordCitizen: StepBuilder.record_citizen,
    fx.Say: StepBuilder.say,
    fx.Notify: StepBuilder.notify,
    fx.ShowControl: StepBuilder.show_control,
    fx.AskBot: StepBuilder.ask_bot,
    fx.BotHandback: StepBuilder.bot_handback,
    fx.CheckAvailability: StepBuilder.check_availability,
    fx.OpenThread: StepBuilder.open_thread,
    fx.Transfer: StepBuilder.transfer,
    fx.ToDesk: StepBuilder.to_desk,
    fx.DeskNote: StepBuilder.desk_note,
    fx.CloseThread: StepBuilder.close_thread,
    fx.StartTimer: StepBuilder.start_timer,
    fx.CancelTimer: StepBuilder.cancel_timer,
    fx.RecordSurvey: StepBuilder.record_survey,
    fx.CountHandover: StepBuilder.count_handover,
    fx.CountCallback: registrations.count_callback,
    fx.SuggestQuestion: registrations.suggest_question,
    fx.RegisterCallback: registrations.register_callback,
    fx.RegisterContact: registrations.register_contact,
}
