"""The store contract. Every engine (SQLite, PostgreSQL) passes the same test suite.

The unit of writing is a `Step`: the inbox dedup key of the event that caused it, the
conversation's new values, the transcript entries, the outbox items, the timers set or
cancelled, a survey answer and the handover events for the report. A step is written
in one transaction or not at all, so a state change and the messages it causes can
never be separated by a crash.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import ClassVar

from handover.model import (
    Conversation,
    DeadLetter,
    HandoverEvent,
    OutboxItem,
    OutboxRow,
    SurveyAnswer,
    Target,
    Timer,
    TranscriptEntry,
)


class StoreError(Exception):
    """The store cannot serve (unreachable, corrupt, wrong schema)."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer daemon; refusing to touch it."""


class VersionConflict(StoreError):
    """The conversation changed since it was read; the caller re-reads and retries."""


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


class Store(abc.ABC):
    """Durable state of the daemon. All methods are coroutine-safe.

    Raises StoreError (or a subclass) when the database cannot serve.
    """

    # --- lifecycle ------------------------------------------------------------------

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations; raise SchemaTooNew for a newer DB."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def schema_version(self) -> int: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreError when the database cannot be reached."""

    # --- conversations --------------------------------------------------------------

    @abc.abstractmethod
    async def resolve_conversation(self, candidate: Conversation) -> Conversation:
        """Return the conversation for (tenant, channel, channel_key), creating it from
        `candidate` when there is none. Safe against concurrent callers."""

    @abc.abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    @abc.abstractmethod
    async def commit(self, step: Step) -> CommitResult:
        """Write a step atomically; see `Step`."""

    @abc.abstractmethod
    async def seen(self, source: str, source_id: str) -> bool:
        """Whether an inbox key was recorded (an inbound event or a desk echo)."""

    @abc.abstractmethod
    async def record_echo(self, source: str, source_id: str) -> None:
        """Record the id the desk gave a message we posted, so its echo is dropped."""

    @abc.abstractmethod
    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[TranscriptEntry]:
        """Citizen-visible entries with seq > after_seq, in seq order."""

    @abc.abstractmethod
    async def desk_notes(self, conversation_id: str) -> list[TranscriptEntry]:
        """Entries not shown to the citizen (seq == 0), oldest first."""

    # --- outbox ---------------------------------------------------------------------

    @abc.abstractmethod
    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        exclude: set[tuple[str, Target]] | None = None,
    ) -> list[OutboxRow]:
        """Lease the head item of up to `limit` ready (conversation, target) queues.

        Only the oldest pending item of a queue is ever handed out, only when it is due
        and not leased by a live owner, so delivery per queue is in order with one item
        in flight. Queues in `exclude` are skipped.
        """

    @abc.abstractmethod
    async def mark_in_flight(self, row_id: int, owner: str) -> None:
        """Record that a send is about to start, so a crash mid-send is recognised as
        ambiguous when the item is claimed again (only used for targets that are not
        resend-safe)."""

    @abc.abstractmethod
    async def complete(self, row_id: int, owner: str) -> None:
        """The item was delivered; remove it."""

    @abc.abstractmethod
    async def reschedule(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> None:
        """A failed attempt: count it, clear in_flight, release the lease and try again
        at `next_attempt_at`."""

    @abc.abstractmethod
    async def dead_letter(
        self, row_id: int, owner: str, reason: str, now: datetime
    ) -> DeadLetter | None:
        """Move the item to the dead letters (None when it is no longer ours)."""

    @abc.abstractmethod
    async def release_leases(self, owner: str | None = None) -> int:
        """Release leases of `owner` (all owners when None); returns how many."""

    # --- several instances on one database ---------------------------------------------
    # Engines that serve one instance (SQLite) keep the defaults, which record nothing.

    #: Whether several daemon instances may share this store (connection leases and
    #: wake hints mean something). False: the lease bookkeeping is skipped entirely.
    shared: ClassVar[bool] = False

    async def hold_connections(
        self, owner: str, conversation_ids: Sequence[str], until: datetime
    ) -> None:
        """Record that instance `owner` holds a live citizen connection (a widget
        socket) for each conversation, until `until`; a later holder takes it over.

        While such a lease is live, `claim` hands the conversation's citizen-bound items
        only to its owner, so they reach the socket on that instance. Taking a lease
        over also frees those items that another instance had claimed and not started
        to send (it has no socket for them now). A lease of an instance that died runs
        out, and any instance may deliver again."""

    async def renew_connections(self, owner: str, until: datetime) -> int:
        """Extend every connection lease `owner` still holds; returns how many."""
        return 0

    async def drop_connections(
        self, owner: str, conversation_ids: Sequence[str] | None = None
    ) -> None:
        """End `owner`'s connection leases on these conversations (all with None)."""

    async def wake_hints(self, on_wake: Callable[[str], None]) -> bool:
        """Call `on_wake("outbox")` or `on_wake("timers")` whenever any instance commits
        such work, until the store closes. Returns False where the engine has no such
        hints (one instance wakes its own workers). A hint only: workers still poll."""
        return False

    @abc.abstractmethod
    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        """(pending items, age in seconds of the oldest pending item)."""

    @abc.abstractmethod
    async def outbox_for(self, conversation_id: str) -> list[OutboxRow]:
        """Pending items of one conversation, oldest first (for the admin API)."""

    @abc.abstractmethod
    async def next_due(self) -> datetime | None:
        """When the earliest pending outbox item becomes due (None if nothing waits)."""

    # --- dead letters ---------------------------------------------------------------

    @abc.abstractmethod
    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    @abc.abstractmethod
    async def replay_dead_letter(self, dead_id: int, now: datetime) -> bool:
        """Put a dead letter back in the outbox as a fresh item; False when unknown."""

    # --- timers ---------------------------------------------------------------------

    @abc.abstractmethod
    async def due_timers(self, now: datetime, limit: int = 100) -> list[Timer]: ...

    @abc.abstractmethod
    async def next_timer(self) -> datetime | None: ...

    @abc.abstractmethod
    async def timer(self, conversation_id: str, name: str) -> Timer | None:
        """The timer currently set under `name` for the conversation, if any."""

    # --- surveys, evaluation and privacy ---------------------------------------------

    @abc.abstractmethod
    async def survey_answers(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[SurveyAnswer]:
        """Answers, oldest first; each filter given narrows (answered_at in [since, until))."""

    @abc.abstractmethod
    async def handover_events(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[HandoverEvent]:
        """Handover events, oldest first; each filter given narrows (at in [since, until))."""

    @abc.abstractmethod
    async def conversation_counts(
        self, tenant: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        """Conversations started in [since, until), per channel."""

    @abc.abstractmethod
    async def conversation_ids(self, tenant: str, since: datetime, until: datetime) -> list[str]:
        """Ids of the conversations started in [since, until), oldest first."""

    @abc.abstractmethod
    async def erase_conversation(self, conversation_id: str) -> bool:
        """Delete bodies and identity of one conversation; False when unknown.

        Removed: the transcript and desk notes, pending outbox items, dead letters,
        timers, the context, the channel key (the citizen's identity on the channel),
        the agent's name and survey comments. Kept: the conversation's state and
        counters, survey scores and handover events (no personal data in them).
        """

    @abc.abstractmethod
    async def purge_bodies(
        self, tenant: str, inactive_before: datetime, now: datetime, limit: int
    ) -> int:
        """Remove the bodies of up to `limit` conversations of `tenant` with no activity
        since `inactive_before`; returns how many conversations were purged.

        Bodies: the transcript, desk notes, dead letters (their payloads carry text),
        survey comments, the context and the agent's name; the channel key is replaced
        so a returning citizen starts a new conversation. Kept: the conversation's
        metadata, survey scores, handover events. A purged conversation is not selected
        again unless it was active after its purge, so calling until 0 terminates; each
        call is one short transaction.
        """

    @abc.abstractmethod
    async def purge_metadata(self, tenant: str, inactive_before: datetime, limit: int) -> int:
        """Delete up to `limit` conversations of `tenant` with no activity since
        `inactive_before`, with everything that refers to them (handover events, survey
        answers, timers, outbox items...); returns how many. Each call is one short
        transaction.
        """

    @abc.abstractmethod
    async def purge_inbox(self, older_than: datetime) -> int:
        """Forget dedup keys received before `older_than`; returns how many."""
