"""The conversation model as adapters see it: conversations, content, transcript entries.

Plain data, re-exported from the core so that an adapter imports only `handover.sdk`.
"""

from __future__ import annotations

from handover.model import (
    JSON,
    Attachment,
    Button,
    Content,
    Conversation,
    DeadLetter,
    HandoverEvent,
    HandoverSignal,
    OutboxItem,
    OutboxRow,
    Party,
    State,
    SurveyAnswer,
    Target,
    Timer,
    TranscriptEntry,
    parse_thread_id,
    thread_id,
)

__all__ = [
    "JSON",
    "Attachment",
    "Button",
    "Content",
    "Conversation",
    "DeadLetter",
    "HandoverEvent",
    "HandoverSignal",
    "OutboxItem",
    "OutboxRow",
    "Party",
    "State",
    "SurveyAnswer",
    "Target",
    "Timer",
    "TranscriptEntry",
    "parse_thread_id",
    "thread_id",
]
