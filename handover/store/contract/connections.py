"""Several daemon instances on one database: connection leases and wake hints.

Engines that serve one instance (SQLite) keep the defaults here, which record nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar


class ConnectionLeases:
    """Which instance holds a citizen's live connection, and hints to wake workers.

    The lease methods are called by engine/leases.py, and only when `shared` is true.
    All methods raise StoreError when the database cannot serve.
    """

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
        to send (it has no socket for them now), and makes those waiting in backoff due
        now: a channel that had no live connection for them raised TransientError, and
        the connection is here. A lease of an instance that died runs out, and any
        instance may deliver again. Called when a citizen's socket opens."""

    async def renew_connections(self, owner: str, until: datetime) -> int:
        """Extend every connection lease `owner` still holds; returns how many. Called
        periodically, well before the leases run out."""
        return 0

    async def drop_connections(
        self, owner: str, conversation_ids: Sequence[str] | None = None
    ) -> None:
        """End `owner`'s connection leases on these conversations (all with None).
        Called when sockets close, and for all of them when the instance drains."""

    async def wake_hints(self, on_wake: Callable[[str], None]) -> bool:
        """Call `on_wake("outbox")` or `on_wake("timers")` whenever any instance commits
        such work, until the store closes. Returns False where the engine has no such
        hints (one instance wakes its own workers). A hint only: workers still poll.
        Called once by the daemon after start-up; an error there is logged and the
        daemon runs on polling alone. `on_wake` also receives what `hint` sends.

        The engine may call `on_wake` with anything else `hint` was given."""
        return False

    async def hint(self, what: str) -> None:
        """Send `what` (a short string without personal data) to the `wake_hints`
        listeners of every instance, this one included, now and outside any
        transaction. Best effort: a hint may be lost; nothing durable may depend on it.
        The default does nothing (an engine used by one instance only)."""
        return None
