"""Domain values shared by the core, the store and the adapters.

Everything here is plain data: frozen dataclasses and enums with no I/O, so that the
control state machine stays pure and the store can persist it as rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

JSON = dict[str, Any]


class State(StrEnum):
    """Who holds the conversation (see architecture, section 3)."""

    BOT = "bot"
    #: The daemon asks the citizen's consent before handing over (tenant policy).
    CONSENT = "consent"
    HANDOVER_PENDING = "handover_pending"
    QUEUED = "queued"
    AGENT = "agent"
    SURVEY = "survey"
    #: A phone call is being transferred to the contact centre's queue (the channel
    #: performs the handover; no desk thread). See `handover.control.transfer`.
    TRANSFER = "transfer"
    #: The daemon takes a callback request: consent, how to reach the citizen, their
    #: question (tenant policy). See `handover.control.callback`.
    CALLBACK = "callback"
    CLOSED = "closed"


class Party(StrEnum):
    """Who wrote a transcript entry."""

    CITIZEN = "citizen"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Target(StrEnum):
    """Where an outbox item goes. Resolved to an adapter instance through the tenant."""

    CITIZEN = "citizen"
    BOT = "bot"
    DESK = "desk"
    #: A registration target (`handover.sdk.registration`); the item's payload names
    #: the adapter instance, one item per target.
    REGISTRY = "registry"


class OutboxKind(StrEnum):
    """The kinds of outbox item (`OutboxRow.kind`): the engine delivers each with its own
    operation (`handover.engine.outbox`), and the state machine reacts to a failed one
    (`DeliveryFailed.kind`). The values are stored in rows: never rename one."""

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
    REGISTRY_CALLBACK = "registry.callback"
    REGISTRY_CONTACT = "registry.contact"

    @property
    def target(self) -> Target:
        """Where items of this kind go: a kind's name starts with its target."""
        return Target(self.value.partition(".")[0])


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the citizen; `payload` is what goes back to the bot."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file shown to the other side by link."""

    url: str
    name: str = ""
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Content:
    """What a message says, independent of any channel's wire format."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    custom: Mapping[str, Any] | None = None

    def to_json(self) -> JSON:
        out: JSON = {"text": self.text}
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.attachments:
            out["attachments"] = [
                {"url": a.url, "name": a.name, "mime_type": a.mime_type} for a in self.attachments
            ]
        if self.custom is not None:
            out["custom"] = dict(self.custom)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Content:
        return cls(
            text=str(data.get("text", "")),
            buttons=tuple(
                Button(str(b["title"]), str(b["payload"])) for b in data.get("buttons", ())
            ),
            attachments=tuple(
                Attachment(str(a["url"]), str(a.get("name", "")), str(a.get("mime_type", "")))
                for a in data.get("attachments", ())
            ),
            custom=data.get("custom"),
        )


@dataclass(frozen=True, slots=True)
class HandoverSignal:
    """Why and where a conversation goes to a person (from the bot or the citizen)."""

    reason: str = "citizen_request"
    topic: str | None = None
    queue: str | None = None
    language: str | None = None
    consent: bool = True
    #: What else the bot knows that the agent should see (intents, slots worth
    #: showing...), as JSON-safe values; shown to the agent as given.
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JSON:
        data: JSON = {
            "reason": self.reason,
            "topic": self.topic,
            "queue": self.queue,
            "language": self.language,
            "consent": self.consent,
        }
        if self.details:
            data["details"] = dict(self.details)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HandoverSignal:
        return cls(
            reason=str(data.get("reason") or "citizen_request"),
            topic=data.get("topic"),
            queue=data.get("queue"),
            language=data.get("language"),
            consent=bool(data.get("consent", True)),
            details=dict(details) if isinstance(details := data.get("details"), Mapping) else {},
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    """One citizen's conversation as stored; `version` guards concurrent writers.

    `epoch` increases on every change of control state; work produced under an older
    epoch is stale. `handover_no` counts handovers; the current desk thread id is
    derived from it so a later handover never receives an earlier thread's events.
    """

    id: str
    tenant: str
    channel: str
    channel_key: str
    language: str
    state: State = State.BOT
    epoch: int = 0
    handover_no: int = 0
    seq: int = 0
    agent_name: str | None = None
    bot_escalations: int = 0
    context: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def desk_thread(self) -> str | None:
        """The id of the desk thread of the current handover, if one is live."""
        if self.state in (State.QUEUED, State.AGENT) and self.handover_no:
            return thread_id(self.id, self.handover_no)
        return None

    def evolve(self, **changes: Any) -> Conversation:
        return replace(self, **changes)


def thread_id(conversation_id: str, handover_no: int) -> str:
    """The desk thread id for the n-th handover of a conversation."""
    return f"{conversation_id}-{handover_no}"


def parse_thread_id(thread: str) -> tuple[str, int] | None:
    """Split a desk thread id back into (conversation id, handover number)."""
    conv, sep, num = thread.rpartition("-")
    if not sep or not conv or not num.isdigit():
        return None
    return conv, int(num)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One turn as the citizen saw it (seq > 0) or a desk-only note (seq == 0)."""

    conversation_id: str
    seq: int
    party: Party
    content: Content
    message_id: str
    sender_name: str | None = None
    created_at: datetime | None = None
    handover_no: int = 0

    def to_json(self) -> JSON:
        """The entry as outbox payloads carry it (citizen and desk messages, the desk's
        transcript at handover). Without the conversation id (the row has it) and
        without `handover_no`, which the outbox never carried: rows already stored must
        decode the same, so add keys only with a default in `from_json`."""
        return {
            "seq": self.seq,
            "message_id": self.message_id,
            "party": self.party.value,
            "sender_name": self.sender_name,
            "content": self.content.to_json(),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_json(cls, conversation_id: str, data: Mapping[str, Any]) -> TranscriptEntry:
        """The inverse of `to_json`, for an entry of conversation `conversation_id`."""
        created = data.get("created_at")
        return cls(
            conversation_id=conversation_id,
            seq=int(data["seq"]),
            party=Party(data["party"]),
            content=Content.from_json(data["content"]),
            message_id=str(data["message_id"]),
            sender_name=data.get("sender_name"),
            created_at=datetime.fromisoformat(created) if created else None,
        )


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """Work for a delivery worker, written in the same transaction as the state change."""

    conversation_id: str
    target: Target
    kind: str
    payload: JSON
    epoch: int
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox item as claimed from the store."""

    id: int
    conversation_id: str
    tenant: str
    target: Target
    kind: str
    payload: JSON
    epoch: int
    correlation_id: str
    created_at: datetime
    attempts: int
    in_flight: bool
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    conversation_id: str
    target: Target
    kind: str
    payload: JSON
    reason: str
    attempts: int
    created_at: datetime
    failed_at: datetime


@dataclass(frozen=True, slots=True)
class Timer:
    """A durable timer; when due it becomes a TimerFired event for its conversation."""

    conversation_id: str
    name: str
    due_at: datetime
    epoch: int


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    conversation_id: str
    tenant: str
    channel: str
    handover_no: int
    score: int | None
    comment: str | None
    outcome: str | None
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class HandoverEvent:
    """One step of a handover, kept as metadata for the evaluation report.

    `event` is one of the handover outcomes counted in the metrics (queued, answered,
    abandoned, timeout, outside_hours, unavailable, declined, desk_failed) or `ended`
    when the human stretch finished (`outcome` then says how: the agent's closing
    outcome, agent_inactive, citizen_left...). `reason` is why the handover was asked
    for (the bot's or the citizen's signal). `wait_seconds` is set on answered,
    abandoned and timeout: the time since the conversation was queued at the desk.
    Nothing here identifies the citizen or repeats what anyone wrote.
    """

    conversation_id: str
    tenant: str
    channel: str
    handover_no: int
    event: str
    at: datetime
    reason: str | None = None
    outcome: str | None = None
    wait_seconds: float | None = None
