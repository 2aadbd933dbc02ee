"""The inbound events an adapter hands to `AdapterContext.ingest`.

Each is a frozen dataclass whose (source, source_id) is its dedup key; see
`handover.sdk.keys` for the keys adapters must use.
"""

from __future__ import annotations

from handover.events import (
    AgentClosed,
    AgentJoined,
    AgentMessage,
    AgentTransferred,
    AvailabilityChecked,
    BotFailed,
    BotReplied,
    ChannelNotice,
    ChannelNoticeKind,
    CitizenLeft,
    CitizenMessage,
    CitizenRequestsAgent,
    DeliveryDelayed,
    DeliveryFailed,
    DeskEvent,
    DeskFailed,
    Event,
    HandoverRequested,
    QueueUpdated,
    TimerFired,
    TransferStatus,
)

__all__ = [
    "AgentClosed",
    "AgentJoined",
    "AgentMessage",
    "AgentTransferred",
    "AvailabilityChecked",
    "BotFailed",
    "BotReplied",
    "ChannelNotice",
    "ChannelNoticeKind",
    "CitizenLeft",
    "CitizenMessage",
    "CitizenRequestsAgent",
    "DeliveryDelayed",
    "DeliveryFailed",
    "DeskEvent",
    "DeskFailed",
    "Event",
    "HandoverRequested",
    "QueueUpdated",
    "TimerFired",
    "TransferStatus",
]
