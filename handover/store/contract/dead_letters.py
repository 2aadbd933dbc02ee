"""Dead letters: outbox items given up on, kept for an operator to inspect or replay."""

from __future__ import annotations

import abc
from datetime import datetime

from handover.model import DeadLetter


class DeadLetterStore(abc.ABC):
    """The admin API's view of the dead letters (`OutboxStore.dead_letter` adds them)."""

    @abc.abstractmethod
    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest `limit` dead letters, oldest first. Raises StoreError."""

    @abc.abstractmethod
    async def replay_dead_letter(self, dead_id: int, now: datetime) -> bool:
        """Put a dead letter back in the outbox as a fresh item, due at `now`; False
        when unknown. Called by the admin API on an operator's request. Raises
        StoreError."""
