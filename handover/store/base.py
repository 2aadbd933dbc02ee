"""The store contract. Every engine (SQLite, PostgreSQL) passes the same test suite.

The unit of writing is a `Step`: the inbox dedup key of the event that caused it, the
conversation's new values, the transcript entries, the outbox items, the timers set or
cancelled, a survey answer and the handover events for the report. A step is written
in one transaction or not at all, so a state change and the messages it causes can
never be separated by a crash.

`Store` is composed of one part per concern (handover/store/contract/); each part
documents when its methods are called and what they raise.
"""

from __future__ import annotations

from handover.store.contract import (
    AdapterStateStore,
    CommitResult,
    ConnectionLeases,
    ConversationStore,
    DeadLetterStore,
    EvaluationStore,
    InboxStore,
    OutboxStore,
    RetentionStore,
    SchemaTooNew,
    Step,
    StoreError,
    StoreLifecycle,
    TimerStore,
    TranscriptStore,
    VersionConflict,
)

__all__ = [
    "CommitResult",
    "SchemaTooNew",
    "Step",
    "Store",
    "StoreError",
    "VersionConflict",
]


class Store(
    StoreLifecycle,
    ConversationStore,
    TranscriptStore,
    InboxStore,
    OutboxStore,
    ConnectionLeases,
    DeadLetterStore,
    TimerStore,
    EvaluationStore,
    RetentionStore,
    AdapterStateStore,
):
    """Durable state of the daemon. All methods are coroutine-safe.

    Raises StoreError (or a subclass) when the database cannot serve.
    """
