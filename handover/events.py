"""Inbound events: everything that can change a conversation.

Each event names its `source` (the adapter instance, or "timer", "delivery", "system")
and a `source_id` unique within that source. The pair is the inbox dedup key: an event
whose key was seen before is acknowledged and dropped. Dispatch is by type through the
transition table in `handover.control`, never by string comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from handover.model import Content, HandoverSignal


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    conversation_id: str
    source: str
    source_id: str
    correlation_id: str = ""

    @property
    def dedup_key(self) -> tuple[str, str]:
        return (self.source, self.source_id)


# --- citizen side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CitizenMessage(Event):
    """The citizen wrote something (text, a button payload, an attachment)."""

    content: Content
    payload: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CitizenRequestsAgent(Event):
    """The citizen used the "talk to a person" action."""

    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CitizenLeft(Event):
    """The citizen ended the chat (closed the widget, hung up, said stop)."""


class ChannelNoticeKind(StrEnum):
    """What a channel may report with `ChannelNotice`."""

    #: An agent reply went out as the channel's approved template (the reply window had
    #: closed): the agent gets a desk note.
    TEMPLATE_FALLBACK = "template_fallback"
    #: The citizen waits in the queue and the channel's reply window is about to close:
    #: the citizen is told what happens next.
    WINDOW_CLOSING = "window_closing"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelNotice(Event):
    """The citizen's channel reports something a party must be told (see control).

    `kind` is a `ChannelNoticeKind` (a plain string in stored events); any other kind
    is stale.
    """

    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferStatus(Event):
    """The channel reports how a call transfer ended (see `handover.control.transfer`).

    `answered` ends the conversation as transferred; otherwise `fallback` says what the
    caller gets: "bot" (an apology, the bot goes on) or "goodbye" (the call ends).
    """

    answered: bool
    reason: str = ""
    fallback: str = "bot"


# --- bot side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BotReplied(Event):
    """The bot answered a turn requested under `epoch`."""

    epoch: int
    messages: tuple[Content, ...]
    handover: HandoverSignal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BotFailed(Event):
    """A bot turn requested under `epoch` could not be completed."""

    epoch: int
    reason: str


# --- handover checks ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverRequested(Event):
    """The bot (or a policy) asks for a person."""

    signal: HandoverSignal
    epoch: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AvailabilityChecked(Event):
    """The desk's answer to the availability check made under `epoch`."""

    epoch: int
    available: bool
    queue_length: int | None = None
    estimated_wait_seconds: int | None = None


# --- desk side ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskEvent(Event):
    """Base of everything the desk reports about one thread."""

    thread: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentJoined(DeskEvent):
    agent_name: str
    #: The desk's identifier for the agent, when it tells (registered with the contact).
    agent_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessage(DeskEvent):
    content: Content
    agent_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentClosed(DeskEvent):
    outcome: str = "resolved"
    #: What the agent wrote about the contact when closing, when the desk passes it on
    #: (registered as the contact's content where the tenant chose "summary").
    summary: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTransferred(DeskEvent):
    agent_name: str | None = None
    #: The desk's identifier for the agent who holds the thread now, when it tells.
    agent_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueUpdated(DeskEvent):
    position: int | None = None
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskFailed(DeskEvent):
    """The desk could not take the thread (opening failed for good)."""

    reason: str


# --- daemon internal ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired(Event):
    name: str
    epoch: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryDelayed(Event):
    """Delivery to the desk has been retrying for a while (an outage): tell the citizen.

    Its inbox key names the handover, so the citizen hears it once per handover.
    """

    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryFailed(Event):
    """An outbox item was dead-lettered; the conversation may need to react."""

    epoch: int
    kind: str
    reason: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(Event):
    """A registration target took a registration (the outbox item's follow-up, so the
    report can count what reached the contact centre). Changes nothing in control."""

    kind: str
    target: str
