"""The live desk thread: an agent holds the conversation (state `agent`).

The handlers for what the desk reports about a thread (joined, message, closed,
failed) and for the citizen leaving it serve the `queued` state too, where the thread
is open but nobody has answered yet; `handover.control.handover` lists those rows.
Every desk event names its thread: one about a thread that is no longer live is stale.
"""

from __future__ import annotations

from handover import events as ev
from handover.control import effects as fx
from handover.control.callback import no_person_now
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
    TableRows,
    Transition,
    TransitionContext,
)
from handover.model import Party, State


def _agent_takes(ctx: TransitionContext, name: str | None, agent_id: str | None = None) -> None:
    # The desk's id for the agent, for the contact's registration; an earlier
    # handover's agent must not be taken for this one's.
    context = {k: v for k, v in ctx.conv.context.items() if k != "agent_id"}
    if agent_id:
        context["agent_id"] = agent_id
    ctx.move(State.AGENT, agent_name=name, context=context)
    ctx.emit(
        fx.Notify("agent_joined", {"agent": name or "-"}),
        fx.ShowControl(State.AGENT, agent_name=name),
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.StartTimer(AGENT_INACTIVE, ctx.policy.agent_inactivity_seconds),
        fx.StartTimer(CITIZEN_INACTIVE, ctx.policy.citizen_inactivity_seconds),
        fx.CountHandover("answered"),
    )


def _contact(ctx: TransitionContext, outcome: str, summary: str | None = None) -> fx.Effect:
    """The thread ends: a contact to register; a person talked if an agent held it."""
    held = ctx.conv.state is State.AGENT
    return fx.RegisterContact(outcome, held, ctx.conv.agent_name if held else None, summary)


def agent_citizen_message(ctx: TransitionContext) -> Transition:
    ctx.emit(
        fx.RecordCitizen(ctx.event.content),
        fx.ToDesk(),
        fx.StartTimer(CITIZEN_INACTIVE, ctx.policy.citizen_inactivity_seconds),
    )
    return ctx.done()


def agent_joined(ctx: TransitionContext) -> Transition:
    if not live_thread(ctx, ctx.event):
        return stale(ctx, "thread")
    _agent_takes(ctx, ctx.event.agent_name, ctx.event.agent_id)
    return ctx.done()


def agent_message(ctx: TransitionContext) -> Transition:
    event: ev.AgentMessage = ctx.event
    if not live_thread(ctx, event):
        return stale(ctx, "thread")
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


def agent_rejoined(ctx: TransitionContext) -> Transition:
    """Another agent joined or took over the thread: the citizen hears the new name."""
    event = ctx.event
    if not live_thread(ctx, event):
        return stale(ctx, "thread")
    name = event.agent_name
    changed = bool(name) and name != ctx.conv.agent_name
    if event.agent_id or changed:
        # The contact is registered with whoever holds it at the end: the new agent's
        # desk id when the desk gives one; none when someone else took over without
        # one (better no agent linked than the one who handed it on).
        context = {k: v for k, v in ctx.conv.context.items() if k != "agent_id"}
        if event.agent_id:
            context["agent_id"] = event.agent_id
        ctx.update(context=context)
    if changed:
        ctx.update(agent_name=name)
        ctx.emit(fx.Notify("agent_joined", {"agent": name}), fx.ShowControl(State.AGENT, name))
    return ctx.done()


def agent_closed(ctx: TransitionContext) -> Transition:
    event: ev.AgentClosed = ctx.event
    if not live_thread(ctx, event):
        return stale(ctx, "thread")
    ctx.emit(
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.CancelTimer(AGENT_INACTIVE),
        fx.CancelTimer(CITIZEN_INACTIVE),
    )
    was_agent = ctx.conv.state is State.AGENT
    ctx.emit(_contact(ctx, event.outcome, summary=event.summary))
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
    return back_to_bot(ctx, fx.Notify("agent_closed"), outcome=event.outcome)


def desk_failed(ctx: TransitionContext) -> Transition:
    if not live_thread(ctx, ctx.event):
        return stale(ctx, "thread")
    ctx.emit(fx.CountHandover("desk_failed"), fx.CancelTimer(QUEUE_TIMEOUT),
             _contact(ctx, "desk_failed"))
    return no_person_now(ctx, "desk_failed", fx.Notify("desk_unavailable"))


def citizen_left_thread(ctx: TransitionContext) -> Transition:
    if ctx.conv.state is State.QUEUED:
        ctx.emit(fx.CountHandover("abandoned"))
    end_thread(ctx, "note_citizen_left", "citizen_left")
    ctx.emit(_contact(ctx, "citizen_left"))
    was_agent = ctx.conv.state is State.AGENT
    ctx.move(State.CLOSED, agent_name=None)
    if was_agent:
        ctx.emit(fx.BotHandback("citizen_left"))
    return ctx.done()


def delivery_delayed(ctx: TransitionContext) -> Transition:
    """The desk is slow to receive: the citizen's messages are kept and will arrive."""
    ctx.emit(fx.Notify("desk_delayed"))
    return ctx.done()


def agent_inactive(ctx: TransitionContext) -> Transition:
    """Timer: the agent has not written for too long; the bot takes over again."""
    end_thread(ctx, "note_agent_inactive", "agent_inactive")
    ctx.emit(_contact(ctx, "agent_inactive"))
    return back_to_bot(ctx, fx.Notify("agent_inactive"), outcome="agent_inactive")


def citizen_inactive(ctx: TransitionContext) -> Transition:
    """Timer: the citizen has not written for too long; the conversation closes."""
    end_thread(ctx, "note_citizen_inactive", "citizen_inactive")
    ctx.emit(_contact(ctx, "citizen_inactive"))
    ctx.move(State.CLOSED, agent_name=None)
    ctx.emit(fx.Notify("citizen_inactive"), fx.BotHandback("citizen_inactive"))
    return ctx.done()


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
