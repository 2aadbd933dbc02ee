"""Timers: `TimerFired` is valid in every state and dispatched by (state, timer name).

A timer carries the epoch it was started under: one from an older epoch, or one that
means nothing in the current state, is stale (the router cancels timers on the way, but
a timer can fire while the transition that cancels it is being applied).
"""

from __future__ import annotations

from collections.abc import Mapping

from handover import events as ev
from handover.control.agent import agent_inactive, citizen_inactive
from handover.control.callback import callback_timeout
from handover.control.common import stale
from handover.control.handover import consent_timeout, queue_timeout
from handover.control.survey import survey_timeout
from handover.control.types import (
    AGENT_INACTIVE,
    CALLBACK_TIMEOUT,
    CITIZEN_INACTIVE,
    CONSENT_TIMEOUT,
    QUEUE_TIMEOUT,
    SURVEY_TIMEOUT,
    Handler,
    TableRows,
    Transition,
    TransitionContext,
)
from handover.model import State

#: What each timer does in the one state it is started for.
TIMERS: Mapping[tuple[State, str], Handler] = {
    (State.QUEUED, QUEUE_TIMEOUT): queue_timeout,
    (State.AGENT, AGENT_INACTIVE): agent_inactive,
    (State.AGENT, CITIZEN_INACTIVE): citizen_inactive,
    (State.SURVEY, SURVEY_TIMEOUT): survey_timeout,
    (State.CONSENT, CONSENT_TIMEOUT): consent_timeout,
    (State.CALLBACK, CALLBACK_TIMEOUT): callback_timeout,
}


def timer_fired(ctx: TransitionContext) -> Transition:
    event: ev.TimerFired = ctx.event
    if event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    handler = TIMERS.get((ctx.conv.state, event.name))
    if handler is None:
        return stale(ctx, "timer")
    return handler(ctx)


#: Timers in every state.
TRANSITIONS: TableRows = {(state, ev.TimerFired): timer_fired for state in State}
