"""Pieces several groups of transitions share: dropping or refusing an event, handing
a citizen message to the bot, ending a desk thread, giving control back to the bot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handover import events as ev
from handover.control import effects as fx
from handover.control.types import (
    AGENT_INACTIVE,
    CITIZEN_INACTIVE,
    QUEUE_TIMEOUT,
    Outcome,
    Transition,
    TransitionContext,
)
from handover.model import State


def stale(ctx: TransitionContext, reason: str) -> Transition:
    """Drop the event: it was valid when produced, but the conversation moved on."""
    return Transition(ctx.conv, (), Outcome.STALE, reason)


def refused(ctx: TransitionContext, reason: str, *effects: fx.Effect) -> Transition:
    """Refuse the event in this state; `effects` may still tell the citizen why."""
    return Transition(ctx.conv, tuple(effects), Outcome.REFUSED, reason)


def handover_refused(ctx: TransitionContext) -> Transition:
    """The citizen asks for a person while a handover is already under way."""
    return refused(ctx, "handover already in progress", fx.Notify("handover_refused"))


def duplicate_handover(ctx: TransitionContext) -> Transition:
    """A handover request (from the bot, or a caller being transferred) adds nothing."""
    return refused(ctx, "handover already in progress")


def with_context(ctx: TransitionContext, extra: Mapping[str, Any] | None) -> None:
    """Merge what the channel told about the citizen (page context...) into the context."""
    if extra:
        merged = dict(ctx.conv.context)
        merged.update(extra)
        ctx.update(context=merged)


def to_bot(ctx: TransitionContext, msg: ev.CitizenMessage) -> None:
    """Record the citizen's message and ask the bot for a turn."""
    ctx.emit(fx.RecordCitizen(msg.content), fx.AskBot(msg.content, msg.payload))


def live_thread(ctx: TransitionContext, event: ev.DeskEvent) -> bool:
    """Whether a desk event is about the conversation's current desk thread."""
    return ctx.conv.desk_thread == event.thread


def end_thread(ctx: TransitionContext, note: str, reason: str) -> None:
    """The daemon ends the live desk thread (the agent did not close it)."""
    ctx.emit(
        fx.DeskNote(note),
        fx.CloseThread(reason),
        fx.CancelTimer(QUEUE_TIMEOUT),
        fx.CancelTimer(AGENT_INACTIVE),
        fx.CancelTimer(CITIZEN_INACTIVE),
    )


def back_to_bot(
    ctx: TransitionContext, *notices: fx.Effect, outcome: str | None = None
) -> Transition:
    """Control returns to the bot; with `outcome`, the bot is told how the livechat ended."""
    ctx.move(State.BOT, agent_name=None)
    ctx.emit(*notices, fx.ShowControl(State.BOT))
    if outcome is not None:
        ctx.emit(fx.BotHandback(outcome))
    return ctx.done()
