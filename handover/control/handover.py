"""Asking for a person: the consent question, the desk's availability check and the
queue (states `consent`, `handover_pending`, `queued`), and handover requests.

    bot --request--> [consent --yes-->] handover_pending --available--> queued
                                        (or straight to queued without the check,
                                         or to `transfer` on a channel that transfers)

A request outside opening hours, a declined consent, an unavailable or failing desk all
lead back to the bot. The `queued` state shares the desk thread's handlers with the
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
    Step,
    TableRows,
    Transition,
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


def request_handover(step: Step, signal: HandoverSignal, *, from_bot: bool = False) -> Transition:
    """Start a handover from a state where the bot (or nobody) holds the conversation."""
    if not step.env.within_hours:
        step.emit(fx.Notify("outside_hours"), fx.CountHandover("outside_hours", signal.reason))
        if step.conv.state is not State.BOT:
            step.move(State.BOT)
        return step.done()
    if _needs_consent(step.policy, signal, from_bot):
        step.move(State.CONSENT, context={**step.conv.context, "consent_signal": signal.to_json()})
        step.emit(
            fx.Notify("consent_question", buttons=CONSENT_BUTTONS),
            fx.ShowControl(State.CONSENT),
            fx.StartTimer(CONSENT_TIMEOUT, step.policy.consent_timeout_seconds),
        )
        return step.done()
    return _start_handover(step, signal)


def _start_handover(step: Step, signal: HandoverSignal) -> Transition:
    if step.env.transfer:
        # The channel transfers the call to the contact centre: no desk thread.
        return start_transfer(step, signal)
    context = dict(step.conv.context)
    context["handover"] = signal.to_json()
    if step.policy.check_availability:
        step.move(State.HANDOVER_PENDING, handover_no=step.conv.handover_no + 1, context=context)
        step.emit(
            fx.Notify("handover_checking"),
            fx.ShowControl(State.HANDOVER_PENDING),
            fx.CheckAvailability(signal),
        )
        return step.done()
    step.update(handover_no=step.conv.handover_no + 1, context=context)
    return _queue(step, signal, None, None)


def _queue(
    step: Step, signal: HandoverSignal, position: int | None, wait: int | None
) -> Transition:
    step.move(State.QUEUED, agent_name=None)
    notice = (
        fx.Notify("queued", {"position": position})
        if position is not None
        else fx.Notify("queued_unknown")
    )
    step.emit(
        fx.OpenThread(signal),
        notice,
        fx.ShowControl(State.QUEUED, queue_position=position, estimated_wait_seconds=wait),
        fx.StartTimer(QUEUE_TIMEOUT, step.policy.queue_timeout_seconds),
        fx.CountHandover("queued"),
    )
    return step.done()


def _signal_of(conv: Conversation) -> HandoverSignal:
    data = conv.context.get("handover")
    return HandoverSignal.from_json(data) if isinstance(data, dict) else HandoverSignal()


def citizen_requests_agent(step: Step) -> Transition:
    """The citizen's "talk to a person" while the bot (or nobody) holds the conversation."""
    with_context(step, step.event.context)
    step.emit(fx.CancelTimer(SURVEY_TIMEOUT))
    return request_handover(step, HandoverSignal(reason="citizen_request"))


def handover_requested(step: Step) -> Transition:
    event: ev.HandoverRequested = step.event
    if event.epoch is not None and event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    return request_handover(step, event.signal, from_bot=True)


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


def _leave_consent(step: Step) -> None:
    context = {k: v for k, v in step.conv.context.items() if k != "consent_signal"}
    step.move(State.BOT, context=context)
    step.emit(fx.CancelTimer(CONSENT_TIMEOUT), fx.ShowControl(State.BOT))


def consent_message(step: Step) -> Transition:
    msg: ev.CitizenMessage = step.event
    answer = _consent_answer(msg)
    raw = step.conv.context.get("consent_signal")
    signal = HandoverSignal.from_json(raw if isinstance(raw, dict) else {})
    if answer is None:
        # Not an answer: the citizen moved on. Drop the handover, let the bot answer.
        _leave_consent(step)
        to_bot(step, msg)
        return step.done()
    step.emit(fx.RecordCitizen(msg.content))
    if not answer:
        _leave_consent(step)
        step.emit(fx.Notify("consent_declined"), fx.CountHandover("declined", signal.reason))
        return step.done()
    context = {k: v for k, v in step.conv.context.items() if k != "consent_signal"}
    step.update(context=context)
    step.emit(fx.CancelTimer(CONSENT_TIMEOUT))
    return _start_handover(step, replace(signal, consent=True))


def consent_asked_again(step: Step) -> Transition:
    """The citizen pressed "talk to a person" again: the question still stands."""
    step.emit(fx.Notify("consent_question", buttons=CONSENT_BUTTONS))
    return step.done()


def consent_timeout(step: Step) -> Transition:
    """Timer: no answer to the consent question; the bot goes on, nobody is asked."""
    _leave_consent(step)
    return step.done()


def leave_in_consent(step: Step) -> Transition:
    step.move(State.CLOSED)
    step.emit(fx.CancelTimer(CONSENT_TIMEOUT))
    return step.done()


# --- the availability check ----------------------------------------------------------


def availability_checked(step: Step) -> Transition:
    event: ev.AvailabilityChecked = step.event
    if event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    if not event.available:
        step.emit(fx.CountHandover("unavailable"))
        return back_to_bot(step, fx.Notify("no_agents"))
    return _queue(step, _signal_of(step.conv), event.queue_length, event.estimated_wait_seconds)


def pending_citizen_message(step: Step) -> Transition:
    # The desk thread is opened after the check with the transcript so far, so
    # recording the message is enough for the agent to see it.
    step.emit(fx.RecordCitizen(step.event.content))
    return step.done()


def check_failed(step: Step) -> Transition:
    """The availability check made under the event's epoch could not be done."""
    if step.event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    step.emit(fx.CountHandover("desk_failed"))
    return back_to_bot(step, fx.Notify("desk_unavailable"))


def leave_before_thread(step: Step) -> Transition:
    step.move(State.CLOSED)
    step.emit(fx.CountHandover("abandoned"))
    return step.done()


# --- the queue --------------------------------------------------------------------------


def queued_citizen_message(step: Step) -> Transition:
    step.emit(fx.RecordCitizen(step.event.content), fx.ToDesk())
    return step.done()


def queued_transferred(step: Step) -> Transition:
    """The desk moved the waiting thread to another queue: nothing changes for anyone."""
    if not live_thread(step, step.event):
        return stale(step, "thread")
    return step.done()


def queue_updated(step: Step) -> Transition:
    event: ev.QueueUpdated = step.event
    if not live_thread(step, event):
        return stale(step, "thread")
    if event.position is not None:
        minutes = ((event.estimated_wait_seconds or 0) + 59) // 60
        step.emit(fx.Notify("queue_update", {"position": event.position, "minutes": minutes}))
    step.emit(
        fx.ShowControl(
            State.QUEUED,
            queue_position=event.position,
            estimated_wait_seconds=event.estimated_wait_seconds,
        )
    )
    return step.done()


def queue_timeout(step: Step) -> Transition:
    """Timer: nobody answered the waiting citizen; the tenant's fallback applies."""
    step.emit(fx.CountHandover("timeout"))
    fallback = step.policy.queue_fallback
    if fallback == "message":
        # Keep the thread open: the citizen leaves a message the agent answers later.
        step.emit(fx.Notify("queue_timeout_message"), fx.DeskNote("note_queue_timeout"))
        return step.done()
    end_thread(step, "note_queue_timeout", "queue_timeout")
    key = "queue_timeout_phone" if fallback == "phone" else "queue_timeout_bot"
    return back_to_bot(step, fx.Notify(key))


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
