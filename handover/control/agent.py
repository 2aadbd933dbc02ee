"""The live desk thread: an agent holds the conversation (state `agent`).

The handlers for what the desk reports about a thread (joined, message, closed,
failed) and for the citizen leaving it serve the `queued` state too, where the thread
is open but nobody has answered yet; `handover.control.handover` lists those rows.
Every desk event names its thread: one about a thread that is no longer live is stale.
"""

from __future__ import annotations

from handover import events as ev
from handover.control import effects as fx
from handover.control.common import (
    back_to_bot,
    end_thread,
    handover_refused,
    live_thread,
    stale,
)
from handover.control.types import (
    AGENT_INACTIVE,
    CITIZEN_INACTIVE,
    QUEUE_TIMEOUT,
    SURVEY_BUTTONS,
    SURVEY_TIMEOUT,
    Step,
    TableRows,
    Transition,
)
from handover.model import Party, State


def _agent_takes(step: Step, name: str | None) -> None:
    step.move(State.AGENT, agent_name=name)
    step.emit(
        fx.Notify("agent_joined", {"agent": name or "-"}),
        fx.ShowControl(State.AGENT, agent_name=name),
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.StartTimer(AGENT_INACTIVE, step.policy.agent_inactivity_seconds),
        fx.StartTimer(CITIZEN_INACTIVE, step.policy.citizen_inactivity_seconds),
        fx.CountHandover("answered"),
    )


def agent_citizen_message(step: Step) -> Transition:
    step.emit(
        fx.RecordCitizen(step.event.content),
        fx.ToDesk(),
        fx.StartTimer(CITIZEN_INACTIVE, step.policy.citizen_inactivity_seconds),
    )
    return step.done()


def agent_joined(step: Step) -> Transition:
    if not live_thread(step, step.event):
        return stale(step, "thread")
    _agent_takes(step, step.event.agent_name)
    return step.done()


def agent_message(step: Step) -> Transition:
    event: ev.AgentMessage = step.event
    if not live_thread(step, event):
        return stale(step, "thread")
    name = event.agent_name or step.conv.agent_name
    if step.conv.state is State.QUEUED:
        # Every path by which a human answers counts as the agent holding control.
        _agent_takes(step, name)
    elif name != step.conv.agent_name:
        step.update(agent_name=name)
    step.emit(
        fx.Say(Party.AGENT, event.content, name),
        fx.StartTimer(AGENT_INACTIVE, step.policy.agent_inactivity_seconds),
    )
    return step.done()


def agent_rejoined(step: Step) -> Transition:
    """Another agent joined or took over the thread: the citizen hears the new name."""
    event = step.event
    if not live_thread(step, event):
        return stale(step, "thread")
    name = event.agent_name
    if name and name != step.conv.agent_name:
        step.update(agent_name=name)
        step.emit(fx.Notify("agent_joined", {"agent": name}), fx.ShowControl(State.AGENT, name))
    return step.done()


def agent_closed(step: Step) -> Transition:
    event: ev.AgentClosed = step.event
    if not live_thread(step, event):
        return stale(step, "thread")
    step.emit(
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.CancelTimer(AGENT_INACTIVE),
        fx.CancelTimer(CITIZEN_INACTIVE),
    )
    was_agent = step.conv.state is State.AGENT
    context = dict(step.conv.context)
    context["outcome"] = event.outcome
    step.update(context=context)
    if was_agent and step.policy.survey_enabled and step.env.survey:
        step.move(State.SURVEY, agent_name=None)
        step.emit(
            fx.Notify("agent_closed"),
            fx.Notify("survey_question", buttons=SURVEY_BUTTONS),
            fx.ShowControl(State.SURVEY),
            fx.StartTimer(SURVEY_TIMEOUT, step.policy.survey_timeout_seconds),
            fx.BotHandback(event.outcome),
        )
        return step.done()
    return back_to_bot(step, fx.Notify("agent_closed"), outcome=event.outcome)


def desk_failed(step: Step) -> Transition:
    if not live_thread(step, step.event):
        return stale(step, "thread")
    step.emit(fx.CountHandover("desk_failed"), fx.CancelTimer(QUEUE_TIMEOUT))
    return back_to_bot(step, fx.Notify("desk_unavailable"))


def citizen_left_thread(step: Step) -> Transition:
    if step.conv.state is State.QUEUED:
        step.emit(fx.CountHandover("abandoned"))
    end_thread(step, "note_citizen_left", "citizen_left")
    was_agent = step.conv.state is State.AGENT
    step.move(State.CLOSED, agent_name=None)
    if was_agent:
        step.emit(fx.BotHandback("citizen_left"))
    return step.done()


def delivery_delayed(step: Step) -> Transition:
    """The desk is slow to receive: the citizen's messages are kept and will arrive."""
    step.emit(fx.Notify("desk_delayed"))
    return step.done()


def agent_inactive(step: Step) -> Transition:
    """Timer: the agent has not written for too long; the bot takes over again."""
    end_thread(step, "note_agent_inactive", "agent_inactive")
    return back_to_bot(step, fx.Notify("agent_inactive"), outcome="agent_inactive")


def citizen_inactive(step: Step) -> Transition:
    """Timer: the citizen has not written for too long; the conversation closes."""
    end_thread(step, "note_citizen_inactive", "citizen_inactive")
    step.move(State.CLOSED, agent_name=None)
    step.emit(fx.Notify("citizen_inactive"), fx.BotHandback("citizen_inactive"))
    return step.done()


A = State.AGENT

#: The `agent` state (its timers are in `handover.control.timers`).
TRANSITIONS: TableRows = {
    (A, ev.CitizenMessage): agent_citizen_message,
    (A, ev.CitizenRequestsAgent): handover_refused,
    (A, ev.AgentJoined): agent_rejoined,
    (A, ev.AgentMessage): agent_message,
    (A, ev.AgentClosed): agent_closed,
    (A, ev.AgentTransferred): agent_rejoined,
    (A, ev.DeskFailed): desk_failed,
    (A, ev.CitizenLeft): citizen_left_thread,
    (A, ev.DeliveryDelayed): delivery_delayed,
}
