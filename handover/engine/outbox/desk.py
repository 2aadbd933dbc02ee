"""Outbox kinds for the desk: availability, opening a thread, messages, notes, closing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from handover import events as ev
from handover.engine.outbox.citizen import outbound
from handover.engine.outbox.kinds import Delivered, Operation, OutboxKind
from handover.model import JSON, Conversation, HandoverSignal, OutboxRow, TranscriptEntry
from handover.sdk.contracts import Adapter, DeskAdapter, DeskReceipt, DeskThread
from handover.sdk.keys import desk_message_key


def _echo(a: DeskAdapter, receipt: DeskReceipt) -> Delivered:
    """The desk will echo what we posted under its own id; that echo is not news."""
    if receipt.desk_message_id:
        return Delivered(echo_key=(a.name, desk_message_key(receipt.desk_message_id)))
    return Delivered()


# --- desk.check -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeskCheckPayload:
    """Ask whether the desk (queue) takes conversations now."""

    KIND: ClassVar[OutboxKind] = OutboxKind.DESK_CHECK
    queue: str | None

    def encode(self) -> JSON:
        return {"queue": self.queue}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(queue=data.get("queue"))


def desk_check_key(a: Adapter, r: OutboxRow) -> tuple[str, str]:
    """The inbox key of the availability answer to the check of row `r`."""
    return ("delivery", f"check:{r.id}")


async def send_desk_check(
    a: DeskAdapter, c: Conversation, r: OutboxRow, p: DeskCheckPayload
) -> Delivered:
    availability = await a.availability(c.tenant, p.queue)
    source, source_id = desk_check_key(a, r)
    answer = ev.AvailabilityChecked(
        conversation_id=c.id,
        source=source,
        source_id=source_id,
        correlation_id=r.correlation_id,
        epoch=r.epoch,
        available=availability.available,
        queue_length=availability.queue_length,
        estimated_wait_seconds=availability.estimated_wait_seconds,
    )
    return Delivered(follow_up=answer)


# --- desk.open ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeskOpenPayload:
    """Queue a conversation at the desk as a new thread, with the transcript so far."""

    KIND: ClassVar[OutboxKind] = OutboxKind.DESK_OPEN
    thread: str
    signal: HandoverSignal
    #: Empty only in a row that never said: the conversation's language then.
    language: str
    context: Mapping[str, Any] = field(default_factory=dict)
    #: Entries travel without their handover number (always 0 once decoded).
    transcript: tuple[TranscriptEntry, ...] = ()
    queued_at: datetime | None = None

    def encode(self) -> JSON:
        return {
            "thread": self.thread,
            "signal": self.signal.to_json(),
            "language": self.language,
            "context": dict(self.context),
            "transcript": [entry.to_json() for entry in self.transcript],
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        queued_at = data.get("queued_at")
        return cls(
            thread=str(data["thread"]),
            signal=HandoverSignal.from_json(data.get("signal", {})),
            language=str(data.get("language", "")),
            context=data.get("context", {}),
            transcript=tuple(
                TranscriptEntry.from_json(conversation_id, x) for x in data.get("transcript", ())
            ),
            queued_at=datetime.fromisoformat(str(queued_at)) if queued_at else None,
        )


async def send_desk_open(
    a: DeskAdapter, c: Conversation, r: OutboxRow, p: DeskOpenPayload
) -> Delivered:
    thread = DeskThread(
        thread_id=p.thread,
        tenant=c.tenant,
        channel=c.channel,
        language=p.language or c.language,
        signal=p.signal,
        context=p.context,
        transcript=p.transcript,
        queued_at=p.queued_at,
    )
    return _echo(a, await a.open_thread(c, thread))


# --- desk.message ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeskMessagePayload:
    """A citizen's message for the agent holding the thread."""

    KIND: ClassVar[OutboxKind] = OutboxKind.DESK_MESSAGE
    thread: str
    message: TranscriptEntry

    def encode(self) -> JSON:
        return {"thread": self.thread, "message": self.message.to_json()}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(
            thread=str(data["thread"]),
            message=TranscriptEntry.from_json(conversation_id, data["message"]),
        )


async def send_desk_message(
    a: DeskAdapter, c: Conversation, r: OutboxRow, p: DeskMessagePayload
) -> Delivered:
    return _echo(a, await a.send(c, p.thread, outbound(p.message)))


# --- desk.note ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeskNotePayload:
    """A system note for the agent only (the citizen does not see it)."""

    KIND: ClassVar[OutboxKind] = OutboxKind.DESK_NOTE
    thread: str
    text: str

    def encode(self) -> JSON:
        return {"thread": self.thread, "text": self.text}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(thread=str(data["thread"]), text=str(data["text"]))


async def send_desk_note(
    a: DeskAdapter, c: Conversation, r: OutboxRow, p: DeskNotePayload
) -> Delivered:
    return _echo(a, await a.note(c, p.thread, p.text))


# --- desk.close -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeskClosePayload:
    """The conversation left the desk (citizen left, timeout...): close the thread."""

    KIND: ClassVar[OutboxKind] = OutboxKind.DESK_CLOSE
    thread: str
    reason: str

    def encode(self) -> JSON:
        return {"thread": self.thread, "reason": self.reason}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(thread=str(data["thread"]), reason=str(data.get("reason", "")))


async def send_desk_close(
    a: DeskAdapter, c: Conversation, r: OutboxRow, p: DeskClosePayload
) -> Delivered:
    await a.close_thread(c, p.thread, p.reason)
    return Delivered()


OPERATIONS: tuple[Operation[Any], ...] = (
    Operation(DeskCheckPayload, send_desk_check, follow_up_key=desk_check_key, skip_stale=True),
    Operation(DeskOpenPayload, send_desk_open, citizen_waits=True),
    Operation(DeskMessagePayload, send_desk_message, citizen_waits=True),
    Operation(DeskNotePayload, send_desk_note),
    Operation(DeskClosePayload, send_desk_close),
)
