"""The bot holds the conversation (state `bot`), and a closed conversation the citizen
comes back to (state `closed`): citizen messages become bot turns, and the bot's replies
and failures come back under the epoch they were asked in."""

from __future__ import annotations

from handover import events as ev
from handover.control import effects as fx
from handover.control.common import stale, to_bot, with_context
from handover.control.handover import citizen_requests_agent, request_handover
from handover.control.types import SURVEY_TIMEOUT, TableRows, Transition, TransitionContext
from handover.model import HandoverSignal, Party, State


def bot_citizen_message(ctx: TransitionContext) -> Transition:
    with_context(ctx, ctx.event.context)
    to_bot(ctx, ctx.event)
    return ctx.done()


def closed_citizen_message(ctx: TransitionContext) -> Transition:
    ctx.move(State.BOT)
    if ctx.conv.handover_no > 0:
        # The citizen left during (or after) a human stretch and came back: say who
        # answers now, or the bot's words would read as the employee's.
        ctx.emit(fx.Notify("back_to_bot"))
    ctx.emit(fx.ShowControl(State.BOT))
    return bot_citizen_message(ctx)


def bot_replied(ctx: TransitionContext) -> Transition:
    event: ev.BotReplied = ctx.event
    if event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    for content in event.messages:
        ctx.emit(fx.Say(Party.BOT, content))
    if event.handover is not None:
        return request_handover(ctx, event.handover, from_bot=True)
    return ctx.done()


def bot_failed(ctx: TransitionContext) -> Transition:
    """A bot turn asked under the event's epoch failed: apologise, or escalate to a
    person (at most `max_bot_escalations` times per conversation)."""
    if ctx.event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    if ctx.policy.bot_failure == "escalate" and (
        ctx.conv.bot_escalations < ctx.policy.max_bot_escalations
    ):
        ctx.update(bot_escalations=ctx.conv.bot_escalations + 1)
        ctx.emit(fx.Notify("bot_escalating"))
        return request_handover(ctx, HandoverSignal(reason="bot_failure"))
    ctx.emit(fx.Notify("bot_apology"))
    return ctx.done()


def leave_in_bot(ctx: TransitionContext) -> Transition:
    """The citizen leaves while the bot (or the survey) holds the conversation."""
    ctx.move(State.CLOSED)
    ctx.emit(fx.CancelTimer(SURVEY_TIMEOUT))
    return ctx.done()


B, C = State.BOT, State.CLOSED

#: The `bot` and `closed` states (the bot's handover request is in
#: `handover.control.handover`, with the other states' answer to it).
TRANSITIONS: TableRows = {
    (B, ev.CitizenMessage): bot_citizen_message,
    (B, ev.CitizenRequestsAgent): citizen_requests_agent,
    (B, ev.BotReplied): bot_replied,
    (B, ev.BotFailed): bot_failed,
    (B, ev.CitizenLeft): leave_in_bot,
    (C, ev.CitizenMessage): closed_citizen_message,
    (C, ev.CitizenRequestsAgent): citizen_requests_agent,
}
