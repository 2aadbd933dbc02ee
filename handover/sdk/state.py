"""Adapter state: small durable records an adapter keeps in the core's store.

An adapter that must remember something beyond one request (a desk thread, who picked
it up, a send log, a session) keeps it here instead of in memory or a file of its own:
every daemon instance on one database sees the same records, so any instance can serve
any request. `AdapterContext.state` is the adapter instance's own `AdapterState`; its
keys are namespaced by the instance name, so two instances of one adapter type never
see each other's records.

A record is a JSON object with a version. `put` with `expect_version` is a
compare-and-set, which is how two instances racing for one thing (a pick-up, a claim)
decide exactly one winner. A record may expire (`ttl_seconds`): an expired record reads
as absent at once, and the daemon's housekeeping deletes it later. A record may name a
conversation (`conversation_id`): erasing the conversation, or retention purging it,
deletes the record too, so personal data kept here follows the conversation's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

#: A record's value: a JSON object (nested values must be JSON too).
StateValue = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One record as read: its value, its version (1 when created, +1 per write) and
    when it expires (None: never)."""

    value: StateValue
    version: int
    expires_at: datetime | None = None


class AdapterState(Protocol):
    """Durable key/value records of one adapter instance, shared by every instance of
    the daemon on the store. Keys are free text (keep them short, < 200 characters);
    values JSON objects (keep them small: a record is read and written whole).

    Every method raises `StoreError`-like exceptions (the store's) when the database
    cannot serve; a write that raised may or may not have happened, so read again.
    """

    async def get(self, key: str) -> StateRecord | None:
        """The record under `key`, or None when there is none or it expired."""

    async def put(
        self,
        key: str,
        value: StateValue,
        *,
        expect_version: int | None = None,
        ttl_seconds: float | None = None,
        conversation_id: str | None = None,
    ) -> int | None:
        """Write `value` under `key`; returns the record's new version, or None when
        `expect_version` did not hold (nothing was written).

        `expect_version`: None writes unconditionally (create or replace); 0 creates
        only if there is no live record; n replaces only a live record of version n
        (compare-and-set: of two writers expecting the same n, exactly one wins).
        `ttl_seconds`: the record expires that long after this write (None: never; a
        write without a ttl makes an expiring record permanent). `conversation_id`:
        the conversation the record belongs to, so erasure and retention delete it.
        """

    async def delete(self, key: str, *, expect_version: int | None = None) -> bool:
        """Delete the record under `key` (only if it is live at version
        `expect_version`, when given); True when a live record was deleted."""

    async def scan(self, prefix: str, *, limit: int = 1000) -> list[tuple[str, StateRecord]]:
        """Up to `limit` live records whose key starts with `prefix`, ordered by key."""
