"""The bot holds the conversation (state `bot`), and a closed conversation the citizen
comes back to (state `closed`): citizen messages become bot turns, and the bot's replies
and failures come back under the epoch they were asked in."""

from __future__ import annotations

from handover import events as ev
from handover.control import effects as fx
from handover.control.common import stale, to_bot, with_context
from handover.control.handover import citizen_requests_agent, request_handover
from handover.control.types import SURVEY_TIMEOUT, Step, TableRows, Transition
from handover.model import HandoverSignal, Party, State


def bot_citizen_message(step: Step) -> Transition:
    with_context(step, step.event.context)
    to_bot(step, step.event)
    return step.done()


def closed_citizen_message(step: Step) -> Transition:
    step.move(State.BOT)
    if step.conv.handover_no > 0:
        # The citizen left during (or after) a human stretch and came back: say who
        # answers now, or the bot's words would read as the employee's.
        step.emit(fx.Notify("back_to_bot"))
    step.emit(fx.ShowControl(State.BOT))
    return bot_citizen_message(step)


def bot_replied(step: Step) -> Transition:
    event: ev.BotReplied = step.event
    if event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    for content in event.messages:
        step.emit(fx.Say(Party.BOT, content))
    if event.handover is not None:
        return request_handover(step, event.handover, from_bot=True)
    return step.done()


def bot_failed(step: Step) -> Transition:
    """A bot turn asked under the event's epoch failed: apologise, or escalate to a
    person (at most `max_bot_escalations` times per conversation)."""
    if step.event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    if step.policy.bot_failure == "escalate" and (
        step.conv.bot_escalations < step.policy.max_bot_escalations
    ):
        step.update(bot_escalations=step.conv.bot_escalations + 1)
        step.emit(fx.Notify("bot_escalating"))
        return request_handover(step, HandoverSignal(reason="bot_failure"))
    step.emit(fx.Notify("bot_apology"))
    return step.done()


def leave_in_bot(step: Step) -> Transition:
    """The citizen leaves while the bot (or the survey) holds the conversation."""
    step.move(State.CLOSED)
    step.emit(fx.CancelTimer(SURVEY_TIMEOUT))
    return step.done()


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
