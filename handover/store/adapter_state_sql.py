"""The SQL of adapter state (contract: store/contract/adapter_state.py), once for both
engines, in the engine's `Dialect`.

Every write is one statement, so its condition and its change are atomic on either
engine without an explicit lock: an upsert whose DO UPDATE carries the condition
(PostgreSQL evaluates it on the latest row version after waiting for a concurrent
writer, SQLite has one writer), or an UPDATE/DELETE whose WHERE does. A condition that
fails changes no row and returns none, which is how a lost compare-and-set shows.

Keys compare in code point order: SQLite's BINARY collation, and the column's
``COLLATE "C"`` on PostgreSQL (UTF-8 bytes order like code points). A prefix scan is the
range [prefix, prefix + U+10FFFF), which holds every key that starts with `prefix`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from handover.sdk.state import StateRecord, StateValue
from handover.store.dialect import Dialect, Statement

_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_COLUMNS = "key, value, version, expires_at"
_HIGHEST = "\U0010ffff"


class AdapterStateSQL:
    """Statements for one engine's dialect (see the module docstring)."""

    def __init__(self, dialect: Dialect) -> None:
        self._d = dialect

    def get(self, namespace: str, key: str, now: datetime) -> Statement:
        return self._d.statement(
            f"SELECT {_COLUMNS} FROM adapter_state WHERE namespace = ? AND key = ? AND {_LIVE}",
            [namespace, key, self._d.time_param(now)],
        )

    def put(
        self,
        namespace: str,
        key: str,
        value: StateValue,
        *,
        now: datetime,
        expect_version: int | None,
        expires_at: datetime | None,
        conversation_id: str | None,
    ) -> Statement:
        """One statement returning the new version (no row: the condition failed)."""
        t = self._d.time_param
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        until = t(expires_at) if expires_at is not None else None
        if expect_version is not None and expect_version > 0:
            return self._d.statement(
                "UPDATE adapter_state SET value = ?, version = version + 1, expires_at = ?, "
                "conversation_id = ?, updated_at = ? "
                f"WHERE namespace = ? AND key = ? AND version = ? AND {_LIVE} "
                "RETURNING version",
                [body, until, conversation_id, t(now), namespace, key, expect_version, t(now)],
            )
        # Unconditional, or create-only: an existing record may be replaced only when it
        # expired (it reads as absent); its version goes on either way.
        condition = "" if expect_version is None else (
            " WHERE adapter_state.expires_at IS NOT NULL AND adapter_state.expires_at <= ?"
        )
        params: list[Any] = [namespace, key, body, until, conversation_id, t(now)]
        if expect_version is not None:
            params.append(t(now))
        return self._d.statement(
            "INSERT INTO adapter_state "
            "(namespace, key, value, version, expires_at, conversation_id, updated_at) "
            "VALUES (?, ?, ?, 1, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            "version = adapter_state.version + 1, expires_at = excluded.expires_at, "
            "conversation_id = excluded.conversation_id, updated_at = excluded.updated_at"
            f"{condition} RETURNING version",
            params,
        )

    def delete(
        self, namespace: str, key: str, *, now: datetime, expect_version: int | None
    ) -> Statement:
        """Returns the deleted row's expiry (a row: something was deleted; only a live
        one counts, see `was_live`)."""
        condition = ""
        params: list[Any] = [namespace, key]
        if expect_version is not None:
            condition = f" AND version = ? AND {_LIVE}"
            params += [expect_version, self._d.time_param(now)]
        return self._d.statement(
            f"DELETE FROM adapter_state WHERE namespace = ? AND key = ?{condition} "
            "RETURNING expires_at",
            params,
        )

    def was_live(self, expires_at: Any, now: datetime) -> bool:
        """Whether a deleted row (its `expires_at` column) was live at `now`."""
        return expires_at is None or self._d.time_value(expires_at) > now

    def scan(self, namespace: str, prefix: str, *, now: datetime, limit: int) -> Statement:
        return self._d.statement(
            f"SELECT {_COLUMNS} FROM adapter_state "
            f"WHERE namespace = ? AND key >= ? AND key < ? AND {_LIVE} ORDER BY key LIMIT ?",
            [namespace, prefix, prefix + _HIGHEST, self._d.time_param(now), limit],
        )

    def purge_expired(self, now: datetime, limit: int) -> Statement:
        return self._d.statement(
            "DELETE FROM adapter_state WHERE (namespace, key) IN (SELECT namespace, key "
            "FROM adapter_state WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
            [self._d.time_param(now), limit],
        )

    def record_from(self, r: Any) -> tuple[str, StateRecord]:
        """A selected row (`_COLUMNS`) as (key, record)."""
        until = r["expires_at"]
        expires_at = self._d.time_value(until) if until is not None else None
        return r["key"], StateRecord(json.loads(r["value"]), int(r["version"]), expires_at)
