"""Conversations and the atomic write of everything one event changes (a `Step`)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from handover.model import (
    Conversation,
    HandoverEvent,
    OutboxItem,
    OutboxRow,
    SurveyAnswer,
    Timer,
    TranscriptEntry,
)


class CommitResult(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(slots=True)
class Step:
    """Everything one event changes, written atomically.

    `conversation.version` is the version that was read; the store writes the row with
    version + 1 only if the stored version still matches (else VersionConflict). A
    conversation with `version == 0` is inserted. When `inbox_key` was seen before,
    nothing is written and the result is DUPLICATE.

    Delivery in the same transaction (all optional; see `handover.engine.handoff`):
    `completed` names outbox items `lease_owner` delivered, removed first (only those
    still leased to it). With `lease_until` set too, each new outbox item is leased
    to `lease_owner` until then when its queue holds no earlier item and, for a citizen-bound
    item, no other owner holds a live connection lease of the conversation; the store
    then fills `leased` with those items, in queue order, for the owner to deliver
    without claiming them.
    """

    conversation: Conversation
    inbox_key: tuple[str, str] | None = None
    transcript: list[TranscriptEntry] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)
    timers_set: list[Timer] = field(default_factory=list)
    timers_cancelled: list[str] = field(default_factory=list)
    survey: SurveyAnswer | None = None
    echo_keys: list[tuple[str, str]] = field(default_factory=list)
    handover_events: list[HandoverEvent] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    lease_owner: str | None = None
    lease_until: datetime | None = None
    #: Written by the store on APPLIED (see above); empty otherwise.
    leased: list[OutboxRow] = field(default_factory=list)


class ConversationStore(abc.ABC):
    """Conversation rows, and the one way they change: `commit`."""

    @abc.abstractmethod
    async def resolve_conversation(self, candidate: Conversation) -> Conversation:
        """Return the conversation for (tenant, channel, channel_key), creating it from
        `candidate` when there is none. Safe against concurrent callers.

        Called for every inbound event that names a channel identity rather than a
        conversation id (a citizen message, a new call). Raises StoreError, also when
        `candidate.id` already belongs to another identity.
        """

    async def find_conversation(
        self, tenant: str, channel: str, channel_key: str
    ) -> Conversation | None:
        """The conversation of (tenant, channel, channel_key), or None; never creates.

        Called instead of `resolve_conversation` while the storage guard refuses new
        conversations, so existing ones keep working. Raises StoreError."""
        raise NotImplementedError

    async def count_conversations(self) -> int:
        """How many conversations the store holds (for the storage guard's ceiling;
        read every few seconds, not per request). Raises StoreError."""
        raise NotImplementedError

    @abc.abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation as last committed, or None when unknown. Called by the
        router before each step, by adapters and by the admin API. Raises StoreError."""

    @abc.abstractmethod
    async def commit(self, step: Step) -> CommitResult:
        """Write a step atomically; see `Step`. Called only by the router, once per
        event, after the state machine computed the step.

        Returns DUPLICATE (nothing written) when the step's inbox key was seen before.
        Raises VersionConflict when the conversation changed since it was read (or an
        inserted one exists already): the router re-reads and computes the step again.
        Raises StoreError when nothing could be written; the step is then not applied.
        """
