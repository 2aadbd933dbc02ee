"""Effects: what a transition asks the router to do. Plain data, no I/O.

The router turns each effect into durable rows (transcript entries, outbox items,
timers) written in the same transaction as the state change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handover.model import Content, HandoverSignal, Party, State


@dataclass(frozen=True, slots=True)
class RecordCitizen:
    """Put the citizen's own message in the transcript (it gets a seq)."""

    content: Content


@dataclass(frozen=True, slots=True)
class Say:
    """A bot or agent message for the citizen."""

    party: Party
    content: Content
    sender_name: str | None = None


@dataclass(frozen=True, slots=True)
class Notify:
    """A system text for the citizen from the message catalogue."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ShowControl:
    """Tell channels that display it who holds the conversation now."""

    state: State
    agent_name: str | None = None
    queue_position: int | None = None
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class AskBot:
    """A bot turn for the citizen message just recorded."""

    content: Content
    payload: str | None = None


@dataclass(frozen=True, slots=True)
class BotHandback:
    """Tell the bot that a livechat ended."""

    outcome: str


@dataclass(frozen=True, slots=True)
class CheckAvailability:
    signal: HandoverSignal


@dataclass(frozen=True, slots=True)
class OpenThread:
    """Queue a new desk thread with the transcript so far and the handover context."""

    signal: HandoverSignal


@dataclass(frozen=True, slots=True)
class Transfer:
    """Ask the channel to transfer the call to the contact centre (no desk thread)."""

    signal: HandoverSignal


@dataclass(frozen=True, slots=True)
class ToDesk:
    """Relay the citizen message just recorded to the agent."""


@dataclass(frozen=True, slots=True)
class DeskNote:
    """A system note for the agent, from the catalogue (key starting with note_)."""

    key: str


@dataclass(frozen=True, slots=True)
class CloseThread:
    reason: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class RecordSurvey:
    score: int | None
    comment: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class CountHandover:
    """A handover outcome for the metrics and the report (queued, outside_hours,
    answered...). `reason` is given where the signal is not in the context yet."""

    outcome: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CountCallback:
    """A step of the callback request for the metrics and the report: offered (with
    why), completed, declined, abandoned."""

    outcome: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SuggestQuestion:
    """Remember the citizen's last question in the callback request being taken, so it
    can be offered as a one-tap answer (the router reads the transcript)."""


@dataclass(frozen=True, slots=True)
class RegisterCallback:
    """The citizen's callback request is complete: tell them its reference and when the
    contact centre calls back, and register it at every target that takes callbacks."""

    address_kind: str
    address: str = field(repr=False)
    question: str = field(repr=False)
    name: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RegisterContact:
    """A human stretch (desk thread or call transfer) of the current handover ended:
    register it at every target that takes contacts. `succeeded`: a person talked to
    the citizen (None when the channel could not tell)."""

    outcome: str
    succeeded: bool | None
    agent_name: str | None = None
    summary: str | None = field(default=None, repr=False)


Effect = (
    RecordCitizen
    | Say
    | Notify
    | ShowControl
    | AskBot
    | BotHandback
    | CheckAvailability
    | OpenThread
    | Transfer
    | ToDesk
    | DeskNote
    | CloseThread
    | StartTimer
    | CancelTimer
    | RecordSurvey
    | CountHandover
    | CountCallback
    | SuggestQuestion
    | RegisterCallback
    | RegisterContact
)
