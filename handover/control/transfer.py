"""Handover as a call transfer: the transitions of the `transfer` state.

On a channel that declares `ChannelCapabilities.transfer` (telephony), a handover is not
a desk thread: the channel transfers the call to the contact centre's phone queue and
later reports how it went (`TransferStatus`). The opening-hours and consent checks
before it are the ordinary ones in `handover.control.handover`, which calls
`start_transfer` instead of opening a desk thread; the desk's availability check is
skipped, because the desk's chat queue says nothing about the phone queue.

    bot --handover--> transfer --answered--> closed ("transferred")
                               --failed----> bot (apology) | closed (goodbye)
                               --hung up---> closed ("transfer_unconfirmed")

A transfer the channel could not even start arrives as a dead-lettered outbox item:
`handover.control.failures` routes it to `transfer_not_sent`.
"""

from __future__ import annotations

from handover import events as ev
from handover.control import effects as fx
from handover.control.common import duplicate_handover, stale
from handover.control.types import TableRows, Transition, TransitionContext
from handover.model import HandoverSignal, State

T = State.TRANSFER
#: `TransferStatus.fallback` values: what a caller gets when the transfer failed.
FALLBACK_BOT = "bot"
FALLBACK_GOODBYE = "goodbye"


def start_transfer(ctx: TransitionContext, signal: HandoverSignal) -> Transition:
    """The caller is told, the call goes to the channel's transfer (one new handover)."""
    context = {**ctx.conv.context, "handover": signal.to_json()}
    ctx.move(T, handover_no=ctx.conv.handover_no + 1, context=context, agent_name=None)
    ctx.emit(
        fx.Notify("transferring"),
        fx.ShowControl(T),
        fx.Transfer(signal),
        fx.CountHandover("transferring"),
    )
    return ctx.done()


def transfer_status(ctx: TransitionContext) -> Transition:
    event: ev.TransferStatus = ctx.event
    if event.answered:
        ctx.move(State.CLOSED, context={**ctx.conv.context, "outcome": "transferred"})
        ctx.emit(fx.CountHandover("transferred"), fx.RegisterContact("transferred", True))
        return ctx.done()
    return _failed(ctx, event.fallback)


def _failed(ctx: TransitionContext, fallback: str) -> Transition:
    ctx.emit(fx.CountHandover("transfer_failed"))
    if fallback == FALLBACK_GOODBYE:
        # The channel ends the call once the goodbye is spoken (the conversation closed).
        ctx.move(State.CLOSED, context={**ctx.conv.context, "outcome": "transfer_failed"})
        ctx.emit(fx.Notify("transfer_goodbye"))
        return ctx.done()
    ctx.move(State.BOT)
    ctx.emit(fx.Notify("transfer_failed"), fx.ShowControl(State.BOT))
    return ctx.done()


def not_transferring(ctx: TransitionContext) -> Transition:
    """A transfer status for a transfer that is over (or never was): stale."""
    return stale(ctx, "no transfer")


def caller_speaks(ctx: TransitionContext) -> Transition:
    """The caller speaks while being transferred: kept in the transcript (the agent
    can read it), and the bot, which no longer holds the call, does not answer."""
    ctx.emit(fx.RecordCitizen(ctx.event.content))
    return ctx.done()


def caller_left(ctx: TransitionContext) -> Transition:
    """The call ended before the channel confirmed the transfer. Without transfer
    status notifications this is also how a successful blind transfer looks."""
    ctx.move(State.CLOSED, context={**ctx.conv.context, "outcome": "transfer_unconfirmed"})
    ctx.emit(fx.CountHandover("transfer_unconfirmed"), fx.RegisterContact("transferred", None))
    return ctx.done()


def transfer_not_sent(ctx: TransitionContext) -> Transition:
    """The channel could not start the transfer at all (dead-lettered)."""
    if ctx.conv.state is not T or ctx.event.epoch != ctx.conv.epoch:
        return stale(ctx, "epoch")
    return _failed(ctx, FALLBACK_BOT)


#: The `transfer` state, and transfer statuses in every other state (stale there).
TRANSITIONS: TableRows = {
    (T, ev.TransferStatus): transfer_status,
    (T, ev.CitizenMessage): caller_speaks,
    (T, ev.CitizenRequestsAgent): duplicate_handover,
    (T, ev.CitizenLeft): caller_left,
    **{(state, ev.TransferStatus): not_transferring for state in State if state is not T},
}
