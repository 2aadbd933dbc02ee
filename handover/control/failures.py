"""Reports about the conversation's own outbound work, valid in every state: a
dead-lettered outbox item (`DeliveryFailed`) and a channel's notice (`ChannelNotice`).

Both events carry their kind as a string (the outbox row's kind, the adapter's notice);
it is parsed into an enum here and dispatched through a table keyed by that enum. A kind
without a reaction, or unknown to this version, is stale: nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from handover import events as ev
from handover.control import effects as fx
from handover.control.bot import bot_failed
from handover.control.common import back_to_bot, stale
from handover.control.handover import check_failed
from handover.control.transfer import transfer_not_sent
from handover.control.types import (
    QUEUE_TIMEOUT,
    Handler,
    Step,
    TableRows,
    Transition,
)
from handover.model import Party, State


class OutboxKind(StrEnum):
    """The kinds of outbox items the router queues (`OutboxRow.kind`, the worker's
    operations): the value is the string stored in the outbox."""

    CITIZEN_MESSAGE = "citizen.message"
    CITIZEN_STATE = "citizen.state"
    CITIZEN_TRANSFER = "citizen.transfer"
    BOT_TURN = "bot.turn"
    BOT_HANDBACK = "bot.handback"
    DESK_CHECK = "desk.check"
    DESK_OPEN = "desk.open"
    DESK_MESSAGE = "desk.message"
    DESK_NOTE = "desk.note"
    DESK_CLOSE = "desk.close"


class ChannelNoticeKind(StrEnum):
    """`ChannelNotice.kind` values the state machine reacts to."""

    #: An agent reply went out as the channel's approved template (the reply window had
    #: closed): the agent gets a desk note.
    TEMPLATE_FALLBACK = "template_fallback"
    #: The citizen waits in the queue and the channel's reply window is about to close:
    #: the citizen is told what happens next.
    WINDOW_CLOSING = "window_closing"


_Kind = TypeVar("_Kind", bound=StrEnum)


def _kind_of(kinds: type[_Kind], value: str) -> _Kind | None:
    try:
        return kinds(value)
    except ValueError:
        return None


# --- dead-lettered outbox items --------------------------------------------------------


def _bot_turn_failed(step: Step) -> Transition:
    if step.conv.state is not State.BOT:
        return stale(step, "epoch")
    return bot_failed(step)


def _check_failed(step: Step) -> Transition:
    if step.conv.state is not State.HANDOVER_PENDING:
        return stale(step, "epoch")
    return check_failed(step)


def _open_failed(step: Step) -> Transition:
    if step.conv.state not in (State.QUEUED, State.AGENT) or step.event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    step.emit(fx.CountHandover("desk_failed"), fx.CancelTimer(QUEUE_TIMEOUT))
    return back_to_bot(step, fx.Notify("desk_unavailable"))


def _desk_message_failed(step: Step) -> Transition:
    if step.conv.state not in (State.QUEUED, State.AGENT):
        return stale(step, "thread")
    step.emit(fx.Notify("delivery_failed"))
    return step.done()


def _citizen_message_failed(step: Step) -> Transition:
    # Only an agent's message matters: the agent is told the citizen did not get it.
    if step.event.payload.get("party") != Party.AGENT or step.conv.state is not State.AGENT:
        return stale(step, "no reaction")
    step.emit(fx.DeskNote("note_delivery_failed"))
    return step.done()


#: The reaction to each kind of dead-lettered item; the other kinds need none.
DELIVERY_FAILURES: Mapping[OutboxKind, Handler] = {
    OutboxKind.BOT_TURN: _bot_turn_failed,
    OutboxKind.DESK_CHECK: _check_failed,
    OutboxKind.DESK_OPEN: _open_failed,
    OutboxKind.DESK_MESSAGE: _desk_message_failed,
    OutboxKind.CITIZEN_MESSAGE: _citizen_message_failed,
    OutboxKind.CITIZEN_TRANSFER: transfer_not_sent,
}


def delivery_failed(step: Step) -> Transition:
    event: ev.DeliveryFailed = step.event
    kind = _kind_of(OutboxKind, event.kind)
    handler = DELIVERY_FAILURES.get(kind) if kind is not None else None
    if handler is None:
        return stale(step, "no reaction")
    return handler(step)


# --- channel notices ----------------------------------------------------------------------


def _template_fallback(step: Step) -> Transition:
    # Only while the agent's thread is live: the note goes to that thread.
    if step.conv.state not in (State.QUEUED, State.AGENT):
        return stale(step, "thread")
    step.emit(fx.DeskNote("note_template_fallback"))
    return step.done()


def _window_closing(step: Step) -> Transition:
    if step.conv.state is not State.QUEUED:
        return stale(step, "not waiting")
    step.emit(fx.Notify("window_closing"))
    return step.done()


CHANNEL_NOTICES: Mapping[ChannelNoticeKind, Handler] = {
    ChannelNoticeKind.TEMPLATE_FALLBACK: _template_fallback,
    ChannelNoticeKind.WINDOW_CLOSING: _window_closing,
}


def channel_notice(step: Step) -> Transition:
    event: ev.ChannelNotice = step.event
    kind = _kind_of(ChannelNoticeKind, event.kind)
    if kind is None:
        return stale(step, "no reaction")
    return CHANNEL_NOTICES[kind](step)


#: Delivery failures and channel notices in every state.
TRANSITIONS: TableRows = {
    **{(state, ev.DeliveryFailed): delivery_failed for state in State},
    **{(state, ev.ChannelNotice): channel_notice for state in State},
}
