"""The conversation control state machine: a transition table and a pure function.

`transition(conversation, event, policy, env)` returns the conversation's new values and
the effects to execute. It performs no I/O and reads no clock: everything it needs is in
its arguments, so every (state, event) pair is table-tested.

Exactly one party speaks to the citizen at a time. Each change of state increments the
conversation's control epoch; a bot reply or timer produced under an older epoch, and a
desk event about a thread that is no longer live, is STALE: dropped and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from handover import events as ev
from handover.control import effects as fx
from handover.model import Conversation, HandoverSignal, Party, State

# Timer names.
QUEUE_TIMEOUT = "queue_timeout"
AGENT_INACTIVE = "agent_inactive"
CITIZEN_INACTIVE = "citizen_inactive"
SURVEY_TIMEOUT = "survey_timeout"
CONSENT_TIMEOUT = "consent_timeout"
SKIP_PAYLOAD = "/skip"
CONSENT_YES = "/consent_yes"
CONSENT_NO = "/consent_no"
#: Context keys the state machine keeps for itself; the rest (page context...) is what
#: the channel told about the citizen, and is what bots and desks are shown.
INTERNAL_CONTEXT_KEYS = frozenset(
    {"handover", "outcome", "consent_signal", "survey_score", "choices", "queued_at"}
)


def public_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation context without the state machine's own bookkeeping."""
    return {k: v for k, v in context.items() if k not in INTERNAL_CONTEXT_KEYS}


CONSENT_BUTTONS = (("consent_yes_label", CONSENT_YES), ("consent_no_label", CONSENT_NO))
#: Typed answers to the consent question, besides the buttons (casefolded).
_YES_WORDS = frozenset({"ja", "yes", "j", "y", "ok", "oké", "akkoord", "goed"})
_NO_WORDS = frozenset({"nee", "no", "n", "liever niet", "niet"})


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Policy:
    """The tenant's policies as far as the state machine needs them."""

    check_availability: bool = True
    queue_timeout_seconds: float = 600
    queue_fallback: str = "phone"  # phone | message | bot
    agent_inactivity_seconds: float = 900
    citizen_inactivity_seconds: float = 600
    bot_failure: str = "apologise"  # apologise | escalate
    max_bot_escalations: int = 1
    survey_enabled: bool = True
    survey_timeout_seconds: float = 300
    survey_ask_comment: bool = True
    #: Who asks the citizen's consent to hand over (the agent then sees the transcript):
    #: "none" (nobody), "bot" (the bot asks before it signals; the daemon asks only for
    #: requests the bot did not make or made without consent), "daemon" (always asks).
    consent: str = "none"
    consent_timeout_seconds: float = 300


@dataclass(frozen=True, slots=True)
class Env:
    """Facts about the moment the event is applied, computed by the router."""

    now: datetime
    within_hours: bool = True
    #: The channel performs handovers as a call transfer (`ChannelCapabilities.transfer`).
    transfer: bool = False
    #: The channel can ask the written survey (not a spoken channel).
    survey: bool = True


@dataclass(frozen=True, slots=True)
class Transition:
    conversation: Conversation
    effects: tuple[fx.Effect, ...] = ()
    outcome: Outcome = Outcome.APPLIED
    reason: str = ""


@dataclass(slots=True)
class _Ctx:
    conv: Conversation
    event: Any
    policy: Policy
    env: Env
    effects: list[fx.Effect] = field(default_factory=list)

    def emit(self, *effects: fx.Effect) -> None:
        self.effects.extend(effects)

    def move(self, state: State, **changes: Any) -> None:
        """Change owner: a new epoch, so older work becomes stale."""
        self.conv = self.conv.evolve(state=state, epoch=self.conv.epoch + 1, **changes)

    def update(self, **changes: Any) -> None:
        self.conv = self.conv.evolve(**changes)

    def done(self) -> Transition:
        return Transition(self.conv, tuple(self.effects))


Handler = Callable[[_Ctx], Transition]


def _stale(ctx: _Ctx, reason: str) -> Transition:
    return Transition(ctx.conv, (), Outcome.STALE, reason)


def _refused(ctx: _Ctx, reason: str, *effects: fx.Effect) -> Transition:
    return Transition(ctx.conv, tuple(effects), Outcome.REFUSED, reason)


# --- shared pieces --------------------------------------------------------------------


def _with_context(ctx: _Ctx, extra: Any) -> None:
    if extra:
        merged = dict(ctx.conv.context)
        merged.update(extra)
        ctx.update(context=merged)


def _to_bot(ctx: _Ctx, msg: ev.CitizenMessage) -> None:
    ctx.emit(fx.RecordCitizen(msg.content), fx.AskBot(msg.content, msg.payload))


def _needs_consent(policy: Policy, signal: HandoverSignal, from_bot: bool) -> bool:
    if policy.consent == "daemon":
        return True
    if policy.consent == "bot":
        # The bot asks before it signals; what it did not ask about, the daemon asks.
        return not (from_bot and signal.consent)
    return False


def _request_handover(
    ctx: _Ctx, signal: HandoverSignal, *, from_bot: bool = False
) -> Transition:
    """Start a handover from a state where the bot (or nobody) holds the conversation."""
    if not ctx.env.within_hours:
        ctx.emit(fx.Notify("outside_hours"), fx.CountHandover("outside_hours", signal.reason))
        if ctx.conv.state is not State.BOT:
            ctx.move(State.BOT)
        return ctx.done()
    if _needs_consent(ctx.policy, signal, from_bot):
        ctx.move(State.CONSENT, context={**ctx.conv.context, "consent_signal": signal.to_json()})
        ctx.emit(
            fx.Notify("consent_question", buttons=CONSENT_BUTTONS),
            fx.ShowControl(State.CONSENT),
            fx.StartTimer(CONSENT_TIMEOUT, ctx.policy.consent_timeout_seconds),
        )
        return ctx.done()
    return _start_handover(ctx, signal)


def _start_handover(ctx: _Ctx, signal: HandoverSignal) -> Transition:
    if ctx.env.transfer:
        # The channel transfers the call to the contact centre: no desk thread.
        return control_transfer.start_transfer(ctx, signal)
    context = dict(ctx.conv.context)
    context["handover"] = signal.to_json()
    if ctx.policy.check_availability:
        ctx.move(State.HANDOVER_PENDING, handover_no=ctx.conv.handover_no + 1, context=context)
        ctx.emit(
            fx.Notify("handover_checking"),
            fx.ShowControl(State.HANDOVER_PENDING),
            fx.CheckAvailability(signal),
        )
        return ctx.done()
    ctx.update(handover_no=ctx.conv.handover_no + 1, context=context)
    return _queue(ctx, signal, None, None)


def _queue(ctx: _Ctx, signal: HandoverSignal, position: int | None, wait: int | None) -> Transition:
    ctx.move(State.QUEUED, agent_name=None)
    notice = (
        fx.Notify("queued", {"position": position})
        if position is not None
        else fx.Notify("queued_unknown")
    )
    ctx.emit(
        fx.OpenThread(signal),
        notice,
        fx.ShowControl(State.QUEUED, queue_position=position, estimated_wait_seconds=wait),
        fx.StartTimer(QUEUE_TIMEOUT, ctx.policy.queue_timeout_seconds),
        fx.CountHandover("queued"),
    )
    return ctx.done()


def _signal_of(conv: Conversation) -> HandoverSignal:
    data = conv.context.get("handover")
    return HandoverSignal.from_json(data) if isinstance(data, dict) else HandoverSignal()


def _end_thread(ctx: _Ctx, note: str, reason: str) -> None:
    """The daemon ends the live desk thread (the agent did not close it)."""
    ctx.emit(
        fx.DeskNote(note),
        fx.CloseThread(reason),
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.CancelTimer(AGENT_INACTIVE),
        fx.CancelTimer(CITIZEN_INACTIVE),
    )


def _back_to_bot(ctx: _Ctx, *notices: fx.Effect, outcome: str | None = None) -> Transition:
    ctx.move(State.BOT, agent_name=None)
    ctx.emit(*notices, fx.ShowControl(State.BOT))
    if outcome is not None:
        ctx.emit(fx.BotHandback(outcome))
    return ctx.done()


def _agent_takes(ctx: _Ctx, name: str | None) -> None:
    ctx.move(State.AGENT, agent_name=name)
    ctx.emit(
        fx.Notify("agent_joined", {"agent": name or "-"}),
        fx.ShowControl(State.AGENT, agent_name=name),
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.StartTimer(AGENT_INACTIVE, ctx.policy.agent_inactivity_seconds),
        fx.StartTimer(CITIZEN_INACTIVE, ctx.policy.citizen_inactivity_seconds),
        fx.CountHandover("answered"),
    )


def _live_thread(ctx: _Ctx, event: ev.DeskEvent) -> bool:
    return ctx.conv.desk_thread == event.thread


SURVEY_BUTTONS = tuple((str(n), str(n)) for n in range(11))


def _parse_score(msg: ev.CitizenMessage) -> int | None:
    raw = (msg.payload or msg.content.text).strip()
    if raw.isdigit():
        return int(raw)
    return None


# --- handlers per (state, event type) -------------------------------------------------


def bot_citizen_message(ctx: _Ctx) -> Transition:
    _with_context(ctx, ctx.event.context)
    _to_bot(ctx, ctx.event)
    return ctx.done()


def closed_citizen_message(ctx: _Ctx) -> Transition:
    ctx.move(State.BOT)
    if ctx.conv.handover_no > 0:
        # The citizen left during (or after) a human stretch and came back: say who
        # answers now, or the bot's words would read as the employee's.
        ctx.emit(fx.Notify("back_to_bot"))
    ctx.emit(fx.ShowControl(State.BOT))
    return bot_citizen_message(ctx)


def citizen_requests_agent(ctx: _Ctx) -> Transition:
    _with_context(ctx, ctx.event.context)
    ctx.emit(fx.CancelTimer(SURVEY_TIMEOUT))
    return _request_handover(ctx, HandoverSignal(reason="citizen_request"))


def handover_requested(ctx: _Ctx) -> Transition:
    event: ev.HandoverRequested = ctx.event
    if event.epoch is not None and event.epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    return _request_handover(ctx, event.signal, from_bot=True)


def handover_refused(ctx: _Ctx) -> Transition:
    return _refused(ctx, "handover already in progress", fx.Notify("handover_refused"))


def duplicate_handover(ctx: _Ctx) -> Transition:
    return _refused(ctx, "handover already in progress")


def bot_replied(ctx: _Ctx) -> Transition:
    event: ev.BotReplied = ctx.event
    if event.epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    for content in event.messages:
        ctx.emit(fx.Say(Party.BOT, content))
    if event.handover is not None:
        return _request_handover(ctx, event.handover, from_bot=True)
    return ctx.done()


def bot_failed(ctx: _Ctx) -> Transition:
    epoch = ctx.event.epoch
    if epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    if ctx.policy.bot_failure == "escalate" and (
        ctx.conv.bot_escalations < ctx.policy.max_bot_escalations
    ):
        ctx.update(bot_escalations=ctx.conv.bot_escalations + 1)
        ctx.emit(fx.Notify("bot_escalating"))
        return _request_handover(ctx, HandoverSignal(reason="bot_failure"))
    ctx.emit(fx.Notify("bot_apology"))
    return ctx.done()


def availability_checked(ctx: _Ctx) -> Transition:
    event: ev.AvailabilityChecked = ctx.event
    if event.epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    if not event.available:
        ctx.emit(fx.CountHandover("unavailable"))
        return _back_to_bot(ctx, fx.Notify("no_agents"))
    return _queue(ctx, _signal_of(ctx.conv), event.queue_length, event.estimated_wait_seconds)


def pending_citizen_message(ctx: _Ctx) -> Transition:
    # The desk thread is opened after the check with the transcript so far, so
    # recording the message is enough for the agent to see it.
    ctx.emit(fx.RecordCitizen(ctx.event.content))
    return ctx.done()


def check_failed(ctx: _Ctx) -> Transition:
    if ctx.event.epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    ctx.emit(fx.CountHandover("desk_failed"))
    return _back_to_bot(ctx, fx.Notify("desk_unavailable"))


def leave_before_thread(ctx: _Ctx) -> Transition:
    ctx.move(State.CLOSED)
    ctx.emit(fx.CountHandover("abandoned"))
    return ctx.done()


def leave_in_bot(ctx: _Ctx) -> Transition:
    ctx.move(State.CLOSED)
    ctx.emit(fx.CancelTimer(SURVEY_TIMEOUT))
    return ctx.done()


def queued_citizen_message(ctx: _Ctx) -> Transition:
    ctx.emit(fx.RecordCitizen(ctx.event.content), fx.ToDesk())
    return ctx.done()


def agent_citizen_message(ctx: _Ctx) -> Transition:
    ctx.emit(
        fx.RecordCitizen(ctx.event.content),
        fx.ToDesk(),
        fx.StartTimer(CITIZEN_INACTIVE, ctx.policy.citizen_inactivity_seconds),
    )
    return ctx.done()


def agent_joined(ctx: _Ctx) -> Transition:
    if not _live_thread(ctx, ctx.event):
        return _stale(ctx, "thread")
    _agent_takes(ctx, ctx.event.agent_name)
    return ctx.done()


def agent_message(ctx: _Ctx) -> Transition:
    event: ev.AgentMessage = ctx.event
    if not _live_thread(ctx, event):
        return _stale(ctx, "thread")
    name = event.agent_name or ctx.conv.agent_name
    if ctx.conv.state is State.QUEUED:
        # Every path by which a human answers counts as the agent holding control.
        _agent_takes(ctx, name)
    elif name != ctx.conv.agent_name:
        ctx.update(agent_name=name)
    ctx.emit(
        fx.Say(Party.AGENT, event.content, name),
        fx.StartTimer(AGENT_INACTIVE, ctx.policy.agent_inactivity_seconds),
    )
    return ctx.done()


def agent_rejoined(ctx: _Ctx) -> Transition:
    event = ctx.event
    if not _live_thread(ctx, event):
        return _stale(ctx, "thread")
    name = event.agent_name
    if name and name != ctx.conv.agent_name:
        ctx.update(agent_name=name)
        ctx.emit(fx.Notify("agent_joined", {"agent": name}), fx.ShowControl(State.AGENT, name))
    return ctx.done()


def queued_transferred(ctx: _Ctx) -> Transition:
    if not _live_thread(ctx, ctx.event):
        return _stale(ctx, "thread")
    return ctx.done()


def agent_closed(ctx: _Ctx) -> Transition:
    event: ev.AgentClosed = ctx.event
    if not _live_thread(ctx, event):
        return _stale(ctx, "thread")
    ctx.emit(
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.CancelTimer(AGENT_INACTIVE),
        fx.CancelTimer(CITIZEN_INACTIVE),
    )
    was_agent = ctx.conv.state is State.AGENT
    context = dict(ctx.conv.context)
    context["outcome"] = event.outcome
    ctx.update(context=context)
    if was_agent and ctx.policy.survey_enabled and ctx.env.survey:
        ctx.move(State.SURVEY, agent_name=None)
        ctx.emit(
            fx.Notify("agent_closed"),
            fx.Notify("survey_question", buttons=SURVEY_BUTTONS),
            fx.ShowControl(State.SURVEY),
            fx.StartTimer(SURVEY_TIMEOUT, ctx.policy.survey_timeout_seconds),
            fx.BotHandback(event.outcome),
        )
        return ctx.done()
    return _back_to_bot(ctx, fx.Notify("agent_closed"), outcome=event.outcome)


def queue_updated(ctx: _Ctx) -> Transition:
    event: ev.QueueUpdated = ctx.event
    if not _live_thread(ctx, event):
        return _stale(ctx, "thread")
    if event.position is not None:
        minutes = ((event.estimated_wait_seconds or 0) + 59) // 60
        ctx.emit(fx.Notify("queue_update", {"position": event.position, "minutes": minutes}))
    ctx.emit(
        fx.ShowControl(
            State.QUEUED,
            queue_position=event.position,
            estimated_wait_seconds=event.estimated_wait_seconds,
        )
    )
    return ctx.done()


def desk_failed(ctx: _Ctx) -> Transition:
    if not _live_thread(ctx, ctx.event):
        return _stale(ctx, "thread")
    ctx.emit(fx.CountHandover("desk_failed"), fx.CancelTimer(QUEUE_TIMEOUT))
    return _back_to_bot(ctx, fx.Notify("desk_unavailable"))


def citizen_left_thread(ctx: _Ctx) -> Transition:
    if ctx.conv.state is State.QUEUED:
        ctx.emit(fx.CountHandover("abandoned"))
    _end_thread(ctx, "note_citizen_left", "citizen_left")
    was_agent = ctx.conv.state is State.AGENT
    ctx.move(State.CLOSED, agent_name=None)
    if was_agent:
        ctx.emit(fx.BotHandback("citizen_left"))
    return ctx.done()


def _consent_answer(msg: ev.CitizenMessage) -> bool | None:
    if msg.payload in (CONSENT_YES, CONSENT_NO):
        return msg.payload == CONSENT_YES
    said = msg.content.text.strip().casefold().rstrip(".!")
    if said in _YES_WORDS:
        return True
    if said in _NO_WORDS:
        return False
    return None


def _leave_consent(ctx: _Ctx) -> None:
    context = {k: v for k, v in ctx.conv.context.items() if k != "consent_signal"}
    ctx.move(State.BOT, context=context)
    ctx.emit(fx.CancelTimer(CONSENT_TIMEOUT), fx.ShowControl(State.BOT))


def consent_message(ctx: _Ctx) -> Transition:
    msg: ev.CitizenMessage = ctx.event
    answer = _consent_answer(msg)
    raw = ctx.conv.context.get("consent_signal")
    signal = HandoverSignal.from_json(raw if isinstance(raw, dict) else {})
    if answer is None:
        # Not an answer: the citizen moved on. Drop the handover, let the bot answer.
        _leave_consent(ctx)
        _to_bot(ctx, msg)
        return ctx.done()
    ctx.emit(fx.RecordCitizen(msg.content))
    if not answer:
        _leave_consent(ctx)
        ctx.emit(fx.Notify("consent_declined"), fx.CountHandover("declined", signal.reason))
        return ctx.done()
    context = {k: v for k, v in ctx.conv.context.items() if k != "consent_signal"}
    ctx.update(context=context)
    ctx.emit(fx.CancelTimer(CONSENT_TIMEOUT))
    return _start_handover(ctx, replace(signal, consent=True))


def consent_asked_again(ctx: _Ctx) -> Transition:
    """The citizen pressed "talk to a person" again: the question still stands."""
    ctx.emit(fx.Notify("consent_question", buttons=CONSENT_BUTTONS))
    return ctx.done()


def consent_timeout(ctx: _Ctx) -> Transition:
    _leave_consent(ctx)
    return ctx.done()


def leave_in_consent(ctx: _Ctx) -> Transition:
    ctx.move(State.CLOSED)
    ctx.emit(fx.CancelTimer(CONSENT_TIMEOUT))
    return ctx.done()


def timer_fired(ctx: _Ctx) -> Transition:
    event: ev.TimerFired = ctx.event
    if event.epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    handler = _TIMERS.get((ctx.conv.state, event.name))
    if handler is None:
        return _stale(ctx, "timer")
    return handler(ctx)


def queue_timeout(ctx: _Ctx) -> Transition:
    ctx.emit(fx.CountHandover("timeout"))
    fallback = ctx.policy.queue_fallback
    if fallback == "message":
        # Keep the thread open: the citizen leaves a message the agent answers later.
        ctx.emit(fx.Notify("queue_timeout_message"), fx.DeskNote("note_queue_timeout"))
        return ctx.done()
    _end_thread(ctx, "note_queue_timeout", "queue_timeout")
    key = "queue_timeout_phone" if fallback == "phone" else "queue_timeout_bot"
    return _back_to_bot(ctx, fx.Notify(key))


def agent_inactive(ctx: _Ctx) -> Transition:
    _end_thread(ctx, "note_agent_inactive", "agent_inactive")
    return _back_to_bot(ctx, fx.Notify("agent_inactive"), outcome="agent_inactive")


def citizen_inactive(ctx: _Ctx) -> Transition:
    _end_thread(ctx, "note_citizen_inactive", "citizen_inactive")
    ctx.move(State.CLOSED, agent_name=None)
    ctx.emit(fx.Notify("citizen_inactive"), fx.BotHandback("citizen_inactive"))
    return ctx.done()


def survey_timeout(ctx: _Ctx) -> Transition:
    _finish_survey(ctx, ctx.conv.context.get("survey_score"), None, thanks=False)
    return ctx.done()


def _finish_survey(ctx: _Ctx, score: Any, comment: str | None, *, thanks: bool) -> None:
    context = {k: v for k, v in ctx.conv.context.items() if k != "survey_score"}
    outcome = context.get("outcome")
    ctx.emit(
        fx.RecordSurvey(score if isinstance(score, int) else None, comment, outcome),
        fx.CancelTimer(SURVEY_TIMEOUT),
    )
    if thanks:
        ctx.emit(fx.Notify("survey_thanks"))
    ctx.move(State.BOT, context=context)
    ctx.emit(fx.ShowControl(State.BOT))


def survey_message(ctx: _Ctx) -> Transition:
    msg: ev.CitizenMessage = ctx.event
    pending = ctx.conv.context.get("survey_score")
    if isinstance(pending, int):
        # Second step: the optional comment (or the skip button).
        ctx.emit(fx.RecordCitizen(msg.content))
        skipped = msg.payload == SKIP_PAYLOAD
        _finish_survey(ctx, pending, None if skipped else msg.content.text, thanks=True)
        return ctx.done()
    score = _parse_score(msg)
    if score is None:
        # Not an answer: the citizen moved on. Skip the survey, let the bot answer.
        _finish_survey(ctx, None, None, thanks=False)
        _to_bot(ctx, msg)
        return ctx.done()
    ctx.emit(fx.RecordCitizen(msg.content))
    if score > 10:
        ctx.emit(fx.Notify("survey_invalid", buttons=SURVEY_BUTTONS))
        return ctx.done()
    if ctx.policy.survey_ask_comment:
        ctx.update(context={**ctx.conv.context, "survey_score": score})
        ctx.emit(
            fx.Notify("survey_comment", buttons=(("skip_label", SKIP_PAYLOAD),)),
            fx.StartTimer(SURVEY_TIMEOUT, ctx.policy.survey_timeout_seconds),
        )
        return ctx.done()
    _finish_survey(ctx, score, None, thanks=True)
    return ctx.done()


def delivery_delayed(ctx: _Ctx) -> Transition:
    """The desk is slow to receive: the citizen's messages are kept and will arrive."""
    ctx.emit(fx.Notify("desk_delayed"))
    return ctx.done()


def delivery_failed(ctx: _Ctx) -> Transition:
    event: ev.DeliveryFailed = ctx.event
    handler = _DELIVERY_FAILURES.get(event.kind)
    if handler is None:
        return _stale(ctx, "no reaction")
    return handler(ctx)


def _bot_turn_failed(ctx: _Ctx) -> Transition:
    if ctx.conv.state is not State.BOT:
        return _stale(ctx, "epoch")
    return bot_failed(ctx)


def _check_failed(ctx: _Ctx) -> Transition:
    if ctx.conv.state is not State.HANDOVER_PENDING:
        return _stale(ctx, "epoch")
    return check_failed(ctx)


def _open_failed(ctx: _Ctx) -> Transition:
    if ctx.conv.state not in (State.QUEUED, State.AGENT) or ctx.event.epoch != ctx.conv.epoch:
        return _stale(ctx, "epoch")
    ctx.emit(fx.CountHandover("desk_failed"), fx.CancelTimer(QUEUE_TIMEOUT))
    return _back_to_bot(ctx, fx.Notify("desk_unavailable"))


def _desk_message_failed(ctx: _Ctx) -> Transition:
    if ctx.conv.state not in (State.QUEUED, State.AGENT):
        return _stale(ctx, "thread")
    ctx.emit(fx.Notify("delivery_failed"))
    return ctx.done()


def _citizen_message_failed(ctx: _Ctx) -> Transition:
    if ctx.event.payload.get("party") != Party.AGENT or ctx.conv.state is not State.AGENT:
        return _stale(ctx, "no reaction")
    ctx.emit(fx.DeskNote("note_delivery_failed"))
    return ctx.done()


_DELIVERY_FAILURES: dict[str, Handler] = {
    "bot.turn": _bot_turn_failed,
    "desk.check": _check_failed,
    "desk.open": _open_failed,
    "desk.message": _desk_message_failed,
    "citizen.message": _citizen_message_failed,
}

def channel_notice(ctx: _Ctx) -> Transition:
    handler = _CHANNEL_NOTICES.get(ctx.event.kind)
    if handler is None:
        return _stale(ctx, "no reaction")
    return handler(ctx)


def _template_fallback(ctx: _Ctx) -> Transition:
    # Only while the agent's thread is live: the note goes to that thread.
    if ctx.conv.state not in (State.QUEUED, State.AGENT):
        return _stale(ctx, "thread")
    ctx.emit(fx.DeskNote("note_template_fallback"))
    return ctx.done()


def _window_closing(ctx: _Ctx) -> Transition:
    if ctx.conv.state is not State.QUEUED:
        return _stale(ctx, "not waiting")
    ctx.emit(fx.Notify("window_closing"))
    return ctx.done()


_CHANNEL_NOTICES: dict[str, Handler] = {
    "template_fallback": _template_fallback,
    "window_closing": _window_closing,
}

_TIMERS: dict[tuple[State, str], Handler] = {
    (State.QUEUED, QUEUE_TIMEOUT): queue_timeout,
    (State.AGENT, AGENT_INACTIVE): agent_inactive,
    (State.AGENT, CITIZEN_INACTIVE): citizen_inactive,
    (State.SURVEY, SURVEY_TIMEOUT): survey_timeout,
    (State.CONSENT, CONSENT_TIMEOUT): consent_timeout,
}

B, P, Q, A, S, C = (
    State.BOT,
    State.HANDOVER_PENDING,
    State.QUEUED,
    State.AGENT,
    State.SURVEY,
    State.CLOSED,
)

#: The transition table. A pair that is missing is refused (or stale, for work that
#: refers to an epoch or a desk thread: see `_default`).
TABLE: dict[tuple[State, type[ev.Event]], Handler] = {
    (B, ev.CitizenMessage): bot_citizen_message,
    (B, ev.CitizenRequestsAgent): citizen_requests_agent,
    (B, ev.HandoverRequested): handover_requested,
    (B, ev.BotReplied): bot_replied,
    (B, ev.BotFailed): bot_failed,
    (B, ev.CitizenLeft): leave_in_bot,
    (State.CONSENT, ev.CitizenMessage): consent_message,
    (State.CONSENT, ev.CitizenRequestsAgent): consent_asked_again,
    (State.CONSENT, ev.CitizenLeft): leave_in_consent,
    (P, ev.CitizenMessage): pending_citizen_message,
    (P, ev.CitizenRequestsAgent): handover_refused,
    (P, ev.AvailabilityChecked): availability_checked,
    (P, ev.CitizenLeft): leave_before_thread,
    (Q, ev.CitizenMessage): queued_citizen_message,
    (Q, ev.CitizenRequestsAgent): handover_refused,
    (Q, ev.AgentJoined): agent_joined,
    (Q, ev.AgentMessage): agent_message,
    (Q, ev.AgentClosed): agent_closed,
    (Q, ev.AgentTransferred): queued_transferred,
    (Q, ev.QueueUpdated): queue_updated,
    (Q, ev.DeskFailed): desk_failed,
    (Q, ev.CitizenLeft): citizen_left_thread,
    (A, ev.CitizenMessage): agent_citizen_message,
    (A, ev.CitizenRequestsAgent): handover_refused,
    (A, ev.AgentJoined): agent_rejoined,
    (A, ev.AgentMessage): agent_message,
    (A, ev.AgentClosed): agent_closed,
    (A, ev.AgentTransferred): agent_rejoined,
    (A, ev.DeskFailed): desk_failed,
    (A, ev.CitizenLeft): citizen_left_thread,
    (Q, ev.DeliveryDelayed): delivery_delayed,
    (A, ev.DeliveryDelayed): delivery_delayed,
    (S, ev.CitizenMessage): survey_message,
    (S, ev.CitizenRequestsAgent): citizen_requests_agent,
    (S, ev.CitizenLeft): leave_in_bot,
    (C, ev.CitizenMessage): closed_citizen_message,
    (C, ev.CitizenRequestsAgent): citizen_requests_agent,
}

# Events valid in every state: they check their own epoch or thread.
for _state in State:
    TABLE[(_state, ev.TimerFired)] = timer_fired
    TABLE[(_state, ev.DeliveryFailed)] = delivery_failed
    TABLE[(_state, ev.ChannelNotice)] = channel_notice
    TABLE.setdefault((_state, ev.HandoverRequested), duplicate_handover)

# Work that carries an epoch or a thread is stale outside its state, never "refused":
# it was valid when it was produced.
_STALE_TYPES: tuple[type[ev.Event], ...] = (
    ev.BotReplied,
    ev.BotFailed,
    ev.AvailabilityChecked,
    ev.DeliveryDelayed,
    ev.DeskEvent,
)


# The call-transfer transitions register themselves into TABLE (imported last: that
# module builds on the pieces above).
from handover.control import transfer as control_transfer  # noqa: E402


def transition(conv: Conversation, event: ev.Event, policy: Policy, env: Env) -> Transition:
    """Apply one event to a conversation. Pure: no I/O, no clock."""
    ctx = _Ctx(conv, event, policy, env)
    handler = TABLE.get((conv.state, type(event)))
    if handler is None:
        if isinstance(event, _STALE_TYPES):
            return _stale(ctx, f"{type(event).__name__} in {conv.state}")
        return _refused(ctx, f"{type(event).__name__} in {conv.state}")
    return handler(ctx)
