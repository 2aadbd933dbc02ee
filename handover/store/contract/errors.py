"""What a store raises. Every engine maps its driver's errors onto these."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot serve (unreachable, corrupt, wrong schema)."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer daemon; refusing to touch it."""


class VersionConflict(StoreError):
    """The conversation changed since it was read; the caller re-reads and retries."""
