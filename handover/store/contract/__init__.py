"""The store contract, one part per concern.

`handover.store.base.Store` is the composition of these parts and the one type the
rest of the daemon uses; the parts exist so each concern can be read (and implemented
by an engine) on its own, and so code that needs one concern can say so in its types.
"""

from __future__ import annotations

from handover.store.contract.adapter_state import AdapterStateStore
from handover.store.contract.connections import ConnectionLeases
from handover.store.contract.conversations import CommitResult, ConversationStore, Step
from handover.store.contract.dead_letters import DeadLetterStore
from handover.store.contract.errors import SchemaTooNew, StoreError, VersionConflict
from handover.store.contract.evaluation import EvaluationStore
from handover.store.contract.inbox import InboxStore
from handover.store.contract.lifecycle import StoreLifecycle
from handover.store.contract.outbox import OutboxStore
from handover.store.contract.retention import RetentionStore
from handover.store.contract.timers import TimerStore
from handover.store.contract.transcript import TranscriptStore

__all__ = [
    "AdapterStateStore",
    "CommitResult",
    "ConnectionLeases",
    "ConversationStore",
    "DeadLetterStore",
    "EvaluationStore",
    "InboxStore",
    "OutboxStore",
    "RetentionStore",
    "SchemaTooNew",
    "Step",
    "StoreError",
    "StoreLifecycle",
    "TimerStore",
    "TranscriptStore",
    "VersionConflict",
]
