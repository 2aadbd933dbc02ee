"""Outbox kinds for the citizen's channel: messages, the control display, transfers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from handover.engine.outbox.kinds import Delivered, Operation, OutboxKind
from handover.model import (
    JSON,
    Conversation,
    HandoverSignal,
    OutboxRow,
    State,
    TranscriptEntry,
)
from handover.sdk.contracts import (
    ChannelAdapter,
    ControlUpdate,
    OutboundMessage,
    TransferRequest,
)


def outbound(entry: TranscriptEntry) -> OutboundMessage:
    """A transcript entry as adapters receive it."""
    return OutboundMessage(
        seq=entry.seq,
        message_id=entry.message_id,
        party=entry.party,
        content=entry.content,
        sender_name=entry.sender_name,
        created_at=entry.created_at,
    )


# --- citizen.message ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CitizenMessagePayload:
    """A transcript entry to show the citizen. The row is the entry's JSON itself
    (the control reads its `party` when delivery fails for good)."""

    KIND: ClassVar[OutboxKind] = OutboxKind.CITIZEN_MESSAGE
    entry: TranscriptEntry

    def encode(self) -> JSON:
        return self.entry.to_json()

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(TranscriptEntry.from_json(conversation_id, data))


async def send_citizen_message(
    a: ChannelAdapter, c: Conversation, r: OutboxRow, p: CitizenMessagePayload
) -> Delivered:
    await a.deliver(c, outbound(p.entry))
    return Delivered()


# --- citizen.state --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CitizenStatePayload:
    """Who holds the conversation now, for channels that display it."""

    KIND: ClassVar[OutboxKind] = OutboxKind.CITIZEN_STATE
    state: State
    agent_name: str | None = None
    queue_position: int | None = None
    estimated_wait_seconds: int | None = None

    def encode(self) -> JSON:
        return {
            "state": self.state.value,
            "agent_name": self.agent_name,
            "queue_position": self.queue_position,
            "estimated_wait_seconds": self.estimated_wait_seconds,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(
            state=State(data["state"]),
            agent_name=data.get("agent_name"),
            queue_position=data.get("queue_position"),
            estimated_wait_seconds=data.get("estimated_wait_seconds"),
        )


async def send_citizen_state(
    a: ChannelAdapter, c: Conversation, r: OutboxRow, p: CitizenStatePayload
) -> Delivered:
    update = ControlUpdate(
        state=p.state,
        agent_name=p.agent_name,
        queue_position=p.queue_position,
        estimated_wait_seconds=p.estimated_wait_seconds,
    )
    await a.control_changed(c, update)
    return Delivered()


# --- citizen.transfer -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CitizenTransferPayload:
    """Transfer a spoken call to the contact centre (the channel performs the handover)."""

    KIND: ClassVar[OutboxKind] = OutboxKind.CITIZEN_TRANSFER
    handover_no: int
    signal: HandoverSignal

    def encode(self) -> JSON:
        return {"handover_no": self.handover_no, "signal": self.signal.to_json()}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(
            handover_no=int(data["handover_no"]),
            signal=HandoverSignal.from_json(data.get("signal", {})),
        )


async def send_citizen_transfer(
    a: ChannelAdapter, c: Conversation, r: OutboxRow, p: CitizenTransferPayload
) -> Delivered:
    await a.transfer(c, TransferRequest(handover_no=p.handover_no, signal=p.signal))
    return Delivered()


OPERATIONS: tuple[Operation[Any], ...] = (
    Operation(CitizenMessagePayload, send_citizen_message),
    Operation(CitizenStatePayload, send_citizen_state),
    Operation(CitizenTransferPayload, send_citizen_transfer, skip_stale=True),
)
