"""Reading timers (they are set and cancelled by `commit` only)."""

from __future__ import annotations

import abc
from datetime import datetime

from handover.model import Timer


class TimerStore(abc.ABC):
    """Timers that turn into events when due (engine/timers.py fires them)."""

    @abc.abstractmethod
    async def due_timers(self, now: datetime, limit: int = 100) -> list[Timer]:
        """Up to `limit` timers due at `now`, earliest first. Called by the timer loop,
        which turns each into an event for the router. Raises StoreError."""

    @abc.abstractmethod
    async def next_timer(self) -> datetime | None:
        """When the earliest timer is due (None without timers), so the timer loop
        sleeps until then. Raises StoreError."""

    @abc.abstractmethod
    async def timer(self, conversation_id: str, name: str) -> Timer | None:
        """The timer currently set under `name` for the conversation, if any. Called by
        the router to tell a live timer event from one that was reset meanwhile.
        Raises StoreError."""
