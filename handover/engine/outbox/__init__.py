"""Typed outbox items: one kind, one payload dataclass, one delivery operation.

`kinds` holds the shared shapes (`OutboxKind`, `OutboxPayload`, `Operation`); the
payloads and operations live by target in `citizen`, `bot`, `desk` and `registry`. `OPERATIONS` is
the table the worker dispatches on, keyed by the kind stored in the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handover.engine.outbox import bot, citizen, desk, registry
from handover.engine.outbox.bot import BotHandbackPayload, BotTurnPayload
from handover.engine.outbox.citizen import (
    CitizenMessagePayload,
    CitizenStatePayload,
    CitizenTransferPayload,
)
from handover.engine.outbox.desk import (
    DeskCheckPayload,
    DeskClosePayload,
    DeskMessagePayload,
    DeskNotePayload,
    DeskOpenPayload,
)
from handover.engine.outbox.kinds import (
    Delivered,
    Operation,
    OutboxKind,
    OutboxPayload,
    outbox_item,
)
from handover.engine.outbox.registry import RegistryCallbackPayload, RegistryContactPayload

#: The delivery operation of every kind.
OPERATIONS: Mapping[str, Operation[Any]] = {
    op.kind.value: op for op in (
        *citizen.OPERATIONS, *bot.OPERATIONS, *desk.OPERATIONS, *registry.OPERATIONS
    )
}


def decode(kind: str, data: Mapping[str, Any], conversation_id: str) -> OutboxPayload:
    """The typed payload of a stored row (KeyError for a kind no operation serves)."""
    payload: OutboxPayload = OPERATIONS[kind].payload_type.decode(data, conversation_id)
    return payload


__all__ = [
    "OPERATIONS",
    "BotHandbackPayload",
    "BotTurnPayload",
    "CitizenMessagePayload",
    "CitizenStatePayload",
    "CitizenTransferPayload",
    "Delivered",
    "DeskCheckPayload",
    "DeskClosePayload",
    "DeskMessagePayload",
    "DeskNotePayload",
    "DeskOpenPayload",
    "Operation",
    "OutboxKind",
    "OutboxPayload",
    "RegistryCallbackPayload",
    "RegistryContactPayload",
    "decode",
    "outbox_item",
]
