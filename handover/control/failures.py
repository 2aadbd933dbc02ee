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
from handover.control.callback import no_person_now
from handover.control.common import stale
from handover.control.handover import check_failed
from handover.control.transfer import transfer_not_sent
from handover.control.types import (
    QUEUE_TIMEOUT,
    Handler,
    TableRows,
    Transition,
    TransitionContext,
)
from handover.model import OutboxKind, Party, State

_Kind = TypeVar("_Kind", bound=StrEnum)


def _kind_of(kinds: type[_Kind], value: str) -> _Kind | None:
    try:
        return kinds(value)
    except ValueError:
        return None


# --- dead-lettered outbox items --------------------------------------------------------


def _bot_turn_failed(ctx: TransitionContext) -> Transition:
    if ctx.conv.state is not State.BOT:
        return stale(ctx, "epoch")
    return bot_failed(ctx)


def _check_failed(ctx: TransitionContext) -> Transition:
    if ctx.conv.state is not State.HANDOVER_PENDING:
        return stale(ctx, "epoch")
    return check_failed(ctx)


def _open_failed(ctx: TransitionContext) -> Transition:
    if ctx.conv.state not in (State.QUEUED, State.AGENT) or ctx.event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    ctx.emit(fx.CountHandover("desk_failed"), fx.CancelTimer(QUEUE_TIMEOUT))
    return no_person_now(ctx, "desk_failed", fx.Notify("desk_unavailable"))


def _desk_message_failed(ctx: TransitionContext) -> Transition:
    if ctx.conv.state not in (State.QUEUED, State.AGENT):
        return stale(ctx, "thread")
    ctx.emit(fx.Notify("delivery_failed"))
    return ctx.done()


def _citizen_message_failed(ctx: TransitionContext) -> Transition:
    # Only an agent's message matters: the agent is told the citizen did not get it.
    if ctx.event.payload.get("party") != Party.AGENT or ctx.conv.state is not State.AGENT:
        return stale(ctx, "no reaction")
    ctx.emit(fx.DeskNote("note_delivery_failed"))
    return ctx.done()


#: The reaction to each kind of dead-lettered item; the other kinds need none. A failed
#: registration (registry.*) has none on purpose: the citizen was told their request is
#: taken, and the operator sees the dead letter.
DELIVERY_FAILURES: Mapping[OutboxKind, Handler] = {
    OutboxKind.BOT_TURN: _bot_turn_failed,
    OutboxKind.DESK_CHECK: _check_failed,
    OutboxKind.DESK_OPEN: _open_failed,
    OutboxKind.DESK_MESSAGE: _desk_message_failed,
    OutboxKind.CITIZEN_MESSAGE: _citizen_message_failed,
    OutboxKind.CITIZEN_TRANSFER: transfer_not_sent,
}


def delivery_failed(ctx: TransitionContext) -> Transition:
    event: ev.DeliveryFailed = ctx.event
    kind = _kind_of(OutboxKind, event.kind)
    handler = DELIVERY_FAILURES.get(kind) if kind is not None else None
    if handler is None:
        return stale(ctx, "no reaction")
    return handler(ctx)


# --- channel notices ----------------------------------------------------------------------


def _template_fallback(ctx: TransitionContext) -> Transition:
    # Only while the agent's thread is live: the note goes to that thread.
    if ctx.conv.state not in (State.QUEUED, State.AGENT):
        return stale(ctx, "thread")
    ctx.emit(fx.DeskNote("note_template_fallback"))
    return ctx.done()


def _window_closing(ctx: TransitionContext) -> Transition:
    if ctx.conv.state is not State.QUEUED:
        return stale(ctx, "not waiting")
    ctx.emit(fx.Notify("window_closing"))
    return ctx.done()


CHANNEL_NOTICES: Mapping[ev.ChannelNoticeKind, Handler] = {
    ev.ChannelNoticeKind.TEMPLATE_FALLBACK: _template_fallback,
    ev.ChannelNoticeKind.WINDOW_CLOSING: _window_closing,
}


def channel_notice(ctx: TransitionContext) -> Transition:
    event: ev.ChannelNotice = ctx.event
    kind = _kind_of(ev.ChannelNoticeKind, event.kind)
    if kind is None:
        return stale(ctx, "no reaction")
    return CHANNEL_NOTICES[kind](ctx)


#: Delivery failures and channel notices in every state.
TRANSITIONS: TableRows = {
    **{(state, ev.DeliveryFailed): delivery_failed for state in State},
    **{(state, ev.ChannelNotice): channel_notice for state in State},
}
