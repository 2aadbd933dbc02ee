"""Asking for a person: the consent question, the desk's availability check and the
queue (states `consent`, `handover_pending`, `queued`), and handover requests.

    bot --request--> [consent --yes-->] handover_pending --available--> queued
                                        (or straight to queued without the check,
                                         or to `transfer` on a channel that transfers)

A request outside opening hours, a declined consent, an unavailable or failing desk all
lead back to the bot, or to a callback request where the tenant offers one
(`handover.control.callback`). The `queued` state shares the desk thread's handlers with the
`agent` state (`handover.control.agent`); its rows are listed here.
"""

from __future__ import annotations

from dataclasses import replace

from handover import events as ev
from handover.control import effects as fx
from handover.control.agent import (
    agent_closed,
    agent_joined,
    agent_message,
    citizen_left_thread,
    delivery_delayed,
    desk_failed,
)
from handover.control.callback import no_person_now, offers_callback
from handover.control.common import (
    back_to_bot,
    duplicate_handover,
    end_thread,
    handover_refused,
    live_thread,
    stale,
    to_bot,
    with_context,
)
from handover.control.transfer import start_transfer
from handover.control.types import (
    CONSENT_BUTTONS,
    CONSENT_NO,
    CONSENT_TIMEOUT,
    CONSENT_YES,
    QUEUE_TIMEOUT,
    SURVEY_TIMEOUT,
    Policy,
    TableRows,
    Transition,
    TransitionContext,
)
from handover.model import Conversation, HandoverSignal, State

#: Typed answers to the consent question, besides the buttons (casefolded).
_YES_WORDS = frozenset({"ja", "yes", "j", "y", "ok", "oké", "akkoord", "goed"})
_NO_WORDS = frozenset({"nee", "no", "n", "liever niet", "niet"})


# --- starting a handover --------------------------------------------------------------


def _needs_consent(policy: Policy, signal: HandoverSignal, from_bot: bool) -> bool:
    if policy.consent == "daemon":
        return True
    if policy.consent == "bot":
        # The bot asks before it signals; what it did not ask about, the daemon asks.
        return not (from_bot and signal.consent)
    return False


def request_handover(
    ctx: TransitionContext, signal: HandoverSignal, *, from_bot: bool = False
) -> Transition:
    """Start a handover from a state where the bot (or nobody) holds the conversation."""
    if not ctx.env.within_hours:
        ctx.emit(fx.CountHandover("outside_hours", signal.reason))
        if offers_callback(ctx, "outside_hours"):
            return no_person_now(ctx, "outside_hours", fx.Notify("outside_hours"))
        ctx.emit(fx.Notify("outside_hours"))
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


def _start_handover(ctx: TransitionContext, signal: HandoverSignal) -> Transition:
    if ctx.env.transfer:
        # The channel transfers the call to the contact centre: no desk thread.
        return start_transfer(ctx, signal)
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


def _queue(
    ctx: TransitionContext, signal: HandoverSignal, position: int | None, wait: int | None
) -> Transition:
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


def citizen_requests_agent(ctx: TransitionContext) -> Transition:
    """The citizen's "talk to a person" while the bot (or nobody) holds the conversation."""
    with_context(ctx, ctx.event.context)
    ctx.emit(fx.CancelTimer(SURVEY_TIMEOUT))
    return request_handover(ctx, HandoverSignal(reason="citizen_request"))


def handover_requested(ctx: TransitionContext) -> Transition:
    event: ev.HandoverRequested = ctx.event
    if event.epoch is not None and event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    return request_handover(ctx, event.signal, from_bot=True)


# --- consent ---------------------------------------------------------------------------


def _consent_answer(msg: ev.CitizenMessage) -> bool | None:
    if msg.payload in (CONSENT_YES, CONSENT_NO):
        return msg.payload == CONSENT_YES
    said = msg.content.text.strip().casefold().rstrip(".!")
    if said in _YES_WORDS:
        return True
    if said in _NO_WORDS:
        return False
    return None


def _leave_consent(ctx: TransitionContext) -> None:
    context = {k: v for k, v in ctx.conv.context.items() if k != "consent_signal"}
    ctx.move(State.BOT, context=context)
    ctx.emit(fx.CancelTimer(CONSENT_TIMEOUT), fx.ShowControl(State.BOT))


def consent_message(ctx: TransitionContext) -> Transition:
    msg: ev.CitizenMessage = ctx.event
    answer = _consent_answer(msg)
    raw = ctx.conv.context.get("consent_signal")
    signal = HandoverSignal.from_json(raw if isinstance(raw, dict) else {})
    if answer is None:
        # Not an answer: the citizen moved on. Drop the handover, let the bot answer.
        _leave_consent(ctx)
        to_bot(ctx, msg)
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


def consent_asked_again(ctx: TransitionContext) -> Transition:
    """The citizen pressed "talk to a person" again: the question still stands."""
    ctx.emit(fx.Notify("consent_question", buttons=CONSENT_BUTTONS))
    return ctx.done()


def consent_timeout(ctx: TransitionContext) -> Transition:
    """Timer: no answer to the consent question; the bot goes on, nobody is asked."""
    _leave_consent(ctx)
    return ctx.done()


def leave_in_consent(ctx: TransitionContext) -> Transition:
    ctx.move(State.CLOSED)
    ctx.emit(fx.CancelTimer(CONSENT_TIMEOUT))
    return ctx.done()


# --- the availability check ----------------------------------------------------------


def availability_checked(ctx: TransitionContext) -> Transition:
    event: ev.AvailabilityChecked = ctx.event
    if event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    if not event.available:
        ctx.emit(fx.CountHandover("unavailable"))
        return no_person_now(ctx, "unavailable", fx.Notify("no_agents"))
    return _queue(ctx, _signal_of(ctx.conv), event.queue_length, event.estimated_wait_seconds)


def pending_citizen_message(ctx: TransitionContext) -> Transition:
    # The desk thread is opened after the check with the transcript so far, so
    # recording the message is enough for the agent to see it.
    ctx.emit(fx.RecordCitizen(ctx.event.content))
    return ctx.done()


def check_failed(ctx: TransitionContext) -> Transition:
    """The availability check made under the event's epoch could not be done."""
    if ctx.event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    ctx.emit(fx.CountHandover("desk_failed"))
    return no_person_now(ctx, "desk_failed", fx.Notify("desk_unavailable"))


def leave_before_thread(ctx: TransitionContext) -> Transition:
    ctx.move(State.CLOSED)
    ctx.emit(fx.CountHandover("abandoned"))
    return ctx.done()


# --- the queue --------------------------------------------------------------------------


def queued_citizen_message(ctx: TransitionContext) -> Transition:
    ctx.emit(fx.RecordCitizen(ctx.event.content), fx.ToDesk())
    return ctx.done()


def queued_transferred(ctx: TransitionContext) -> Transition:
    """The desk moved the waiting thread to another queue: nothing changes for anyone."""
    if not live_thread(ctx, ctx.event):
        return stale(ctx, "thread")
    return ctx.done()


def queue_updated(ctx: TransitionContext) -> Transition:
    event: ev.QueueUpdated = ctx.event
    if not live_thread(ctx, event):
        return stale(ctx, "thread")
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


def queue_timeout(ctx: TransitionContext) -> Transition:
    """Timer: nobody answered the waiting citizen; the tenant's fallback applies."""
    ctx.emit(fx.CountHandover("timeout"))
    fallback = ctx.policy.queue_fallback
    if offers_callback(ctx, "queue_timeout"):
        # A callback request replaces the fallback: the thread ends, the KCC calls back.
        end_thread(ctx, "note_queue_timeout", "queue_timeout")
        ctx.emit(fx.RegisterContact("queue_timeout", False))
        return no_person_now(ctx, "queue_timeout", fx.Notify("callback_intro_busy"))
    if fallback == "message":
        # Keep the thread open: the citizen leaves a message the agent answers later.
        ctx.emit(fx.Notify("queue_timeout_message"), fx.DeskNote("note_queue_timeout"))
        return ctx.done()
    end_thread(ctx, "note_queue_timeout", "queue_timeout")
    ctx.emit(fx.RegisterContact("queue_timeout", False))
    key = "queue_timeout_phone" if fallback == "phone" else "queue_timeout_bot"
    return back_to_bot(ctx, fx.Notify(key))


N, P, Q = State.CONSENT, State.HANDOVER_PENDING, State.QUEUED

#: The `consent`, `handover_pending` and `queued` states (their timers are in
#: `handover.control.timers`), and the bot's handover request in every state.
TRANSITIONS: TableRows = {
    (N, ev.CitizenMessage): consent_message,
    (N, ev.CitizenRequestsAgent): consent_asked_again,
    (N, ev.CitizenLeft): leave_in_consent,
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
    (Q, ev.DeliveryDelayed): delivery_delayed,
    (State.BOT, ev.HandoverRequested): handover_requested,
    **{
        (state, ev.HandoverRequested): duplicate_handover
        for state in State
        if state is not State.BOT
    },
}
