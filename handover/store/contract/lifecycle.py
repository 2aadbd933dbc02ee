"""Opening, closing and probing a store."""

from __future__ import annotations

import abc


class StoreLifecycle(abc.ABC):
    """The store's connection to its database.

    Every other method of a store may be called only between `open` and `close`;
    called outside that window they raise StoreError.
    """

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations (or refuse when there are some and the
        engine was told not to migrate). Called once at start-up, by the daemon and by
        the commands that read the database. Opening an open store does nothing.

        Raises SchemaTooNew for a database migrated by a newer daemon (untouched), and
        StoreError when the database cannot be reached or migrated.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish queued writes and disconnect. Called once at shutdown, last; never
        raises for a database that is already gone (the process may be exiting)."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The newest migration recorded in the database (0 for an empty one). Read at
        start-up and by /readyz, which compares it with the version the daemon expects.
        Raises StoreError."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """A cheap round trip, for /readyz. Raises StoreError when the database cannot
        be reached or the store is not open."""
