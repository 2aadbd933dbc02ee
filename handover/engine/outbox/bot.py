"""Outbox kinds for the bot: a turn (whose reply comes back as an event) and handback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from handover import events as ev
from handover.engine.outbox.kinds import Delivered, Operation, OutboxKind
from handover.model import JSON, Conversation, OutboxRow
from handover.sdk.contracts import Adapter, BotAdapter, BotTurn

# --- bot.turn -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotTurnPayload:
    """What the citizen said (or chose) for the bot to answer."""

    KIND: ClassVar[OutboxKind] = OutboxKind.BOT_TURN
    message_id: str
    text: str
    #: The payload of the button the citizen chose, if any.
    payload: str | None
    #: Empty only in a row that never said: the conversation's language then.
    language: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def encode(self) -> JSON:
        return {
            "message_id": self.message_id,
            "text": self.text,
            "payload": self.payload,
            "language": self.language,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(
            message_id=str(data["message_id"]),
            text=str(data.get("text", "")),
            payload=data.get("payload"),
            language=str(data.get("language", "")),
            metadata=data.get("metadata", {}),
        )


def bot_turn_key(a: Adapter, r: OutboxRow) -> tuple[str, str]:
    """The inbox key of the bot's reply to the turn of row `r`."""
    return (a.name, f"turn:{r.id}")


async def send_bot_turn(
    a: BotAdapter, c: Conversation, r: OutboxRow, p: BotTurnPayload
) -> Delivered:
    turn = BotTurn(
        message_id=p.message_id,
        text=p.text,
        payload=p.payload,
        language=p.language or c.language,
        metadata=p.metadata,
    )
    response = await a.turn(c, turn)
    source, source_id = bot_turn_key(a, r)
    reply = ev.BotReplied(
        conversation_id=c.id,
        source=source,
        source_id=source_id,
        correlation_id=r.correlation_id,
        epoch=r.epoch,
        messages=response.messages,
        handover=response.handover,
    )
    return Delivered(follow_up=reply)


# --- bot.handback ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotHandbackPayload:
    """A human stretch ended; the bot holds the conversation again."""

    KIND: ClassVar[OutboxKind] = OutboxKind.BOT_HANDBACK
    outcome: str

    def encode(self) -> JSON:
        return {"outcome": self.outcome}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(outcome=str(data.get("outcome", "")))


async def send_bot_handback(
    a: BotAdapter, c: Conversation, r: OutboxRow, p: BotHandbackPayload
) -> Delivered:
    await a.handback(c, p.outcome)
    return Delivered()


OPERATIONS: tuple[Operation[Any], ...] = (
    Operation(BotTurnPayload, send_bot_turn, follow_up_key=bot_turn_key, skip_stale=True),
    Operation(BotHandbackPayload, send_bot_handback),
)
