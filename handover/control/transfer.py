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
from handover.control.types import Step, TableRows, Transition
from handover.model import HandoverSignal, State

T = State.TRANSFER
#: `TransferStatus.fallback` values: what a caller gets when the transfer failed.
FALLBACK_BOT = "bot"
FALLBACK_GOODBYE = "goodbye"


def start_transfer(step: Step, signal: HandoverSignal) -> Transition:
    """The caller is told, the call goes to the channel's transfer (one new handover)."""
    context = {**step.conv.context, "handover": signal.to_json()}
    step.move(T, handover_no=step.conv.handover_no + 1, context=context, agent_name=None)
    step.emit(
        fx.Notify("transferring"),
        fx.ShowControl(T),
        fx.Transfer(signal),
        fx.CountHandover("transferring"),
    )
    return step.done()


def transfer_status(step: Step) -> Transition:
    event: ev.TransferStatus = step.event
    if event.answered:
        step.move(State.CLOSED, context={**step.conv.context, "outcome": "transferred"})
        step.emit(fx.CountHandover("transferred"))
        return step.done()
    return _failed(step, event.fallback)


def _failed(step: Step, fallback: str) -> Transition:
    step.emit(fx.CountHandover("transfer_failed"))
    if fallback == FALLBACK_GOODBYE:
        # The channel ends the call once the goodbye is spoken (the conversation closed).
        step.move(State.CLOSED, context={**step.conv.context, "outcome": "transfer_failed"})
        step.emit(fx.Notify("transfer_goodbye"))
        return step.done()
    step.move(State.BOT)
    step.emit(fx.Notify("transfer_failed"), fx.ShowControl(State.BOT))
    return step.done()


def not_transferring(step: Step) -> Transition:
    """A transfer status for a transfer that is over (or never was): stale."""
    return stale(step, "no transfer")


def caller_speaks(step: Step) -> Transition:
    """The caller speaks while being transferred: kept in the transcript (the agent
    can read it), and the bot, which no longer holds the call, does not answer."""
    step.emit(fx.RecordCitizen(step.event.content))
    return step.done()


def caller_left(step: Step) -> Transition:
    """The call ended before the channel confirmed the transfer. Without transfer
    status notifications this is also how a successful blind transfer looks."""
    step.move(State.CLOSED, context={**step.conv.context, "outcome": "transfer_unconfirmed"})
    step.emit(fx.CountHandover("transfer_unconfirmed"))
    return step.done()


def transfer_not_sent(step: Step) -> Transition:
    """The channel could not start the transfer at all (dead-lettered)."""
    if step.conv.state is not T or step.event.epoch != step.conv.epoch:
        return stale(step, "epoch")
    return _failed(step, FALLBACK_BOT)


#: The `transfer` state, and transfer statuses in every other state (stale there).
TRANSITIONS: TableRows = {
    (T, ev.TransferStatus): transfer_status,
    (T, ev.CitizenMessage): caller_speaks,
    (T, ev.CitizenRequestsAgent): duplicate_handover,
    (T, ev.CitizenLeft): caller_left,
    **{(state, ev.TransferStatus): not_transferring for state in State if state is not T},
}
