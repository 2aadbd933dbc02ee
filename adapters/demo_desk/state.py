"""The demo desk's memory: its threads, and an optional append-only journal of them.

Every change is one record (a JSON object). The same `_apply` turns a record into
memory both live and when the journal is replayed at start, so a restarted daemon's
desk knows exactly what it knew before. Records are written before they are applied,
under one lock: what is in memory was journalled, in the same order.

Records:
    {"op": "thread",   "at", "thread": {...}, "opened": bool}   a thread came to exist
    {"op": "received", "at", "thread_id", "item": {...}, "dedup": key|null}
    {"op": "agent",    "at", "thread_id", "agent_name": str|null, "status": str|null}

The journal is flushed per record but not fsynced: it survives a daemon crash, not a
power cut, which is enough for a demo stand-in.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from handover.sdk.longpoll import Wakeups
from handover.sdk.model import TranscriptEntry

__all__ = ["DeskState", "Status", "ThreadRecord", "entry_json"]


class Status(StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(slots=True)
class ThreadRecord:
    """One desk thread as the agent sees it. `received` is what the desk was sent, in
    order; an item's `index` is its position counted from 1."""

    thread_id: str
    conversation_id: str
    tenant: str
    channel: str
    language: str
    signal: dict[str, Any] | None
    context: dict[str, Any]
    transcript: list[dict[str, Any]]
    opened_at: str
    updated_at: str
    status: Status = Status.QUEUED
    agent_name: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    #: Dedup keys of received items (message ids, "closed").
    seen: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "conversation_id": self.conversation_id,
            "tenant": self.tenant,
            "channel": self.channel,
            "language": self.language,
            "status": self.status.value,
            "agent_name": self.agent_name,
            "signal": self.signal,
            "context": self.context,
            "transcript": self.transcript,
            "events": self.received,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
        }


def entry_json(entry: TranscriptEntry) -> dict[str, Any]:
    """A transcript entry as the desk shows it."""
    return {
        "seq": entry.seq,
        "message_id": entry.message_id,
        "party": entry.party.value,
        "sender_name": entry.sender_name,
        "content": entry.content.to_json(),
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
    }


class DeskState:
    """The threads in memory, journalled to `path` when one is given."""

    def __init__(self, path: Path | None, now: Callable[[], datetime]) -> None:
        self.path = path
        self._now = now
        self._threads: dict[str, ThreadRecord] = {}
        self._lock = asyncio.Lock()
        self.wakeups = Wakeups()
        self._apply_op: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "thread": self._apply_thread,
            "received": self._apply_received,
            "agent": self._apply_agent,
        }

    # --- reading --------------------------------------------------------------------

    def get(self, thread_id: str) -> ThreadRecord | None:
        return self._threads.get(thread_id)

    def newest_first(self) -> list[ThreadRecord]:
        return list(reversed(self._threads.values()))

    # --- changing -------------------------------------------------------------------

    async def load(self) -> tuple[int, int]:
        """Replay the journal; returns (records applied, unreadable lines skipped).

        A torn last line (the daemon died mid-write) is skipped, not fatal.
        """
        if self.path is None:
            return 0, 0
        text = await asyncio.to_thread(_read_or_create, self.path)
        applied = skipped = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._apply(record)
            except (ValueError, KeyError, TypeError):
                skipped += 1
                continue
            applied += 1
        return applied, skipped

    async def open_thread(self, thread: Mapping[str, Any]) -> bool:
        """Record a thread the daemon opened; False when the desk has it already."""
        async with self._lock:
            if thread["thread_id"] in self._threads:
                return False
            await self._commit({"op": "thread", "thread": dict(thread), "opened": True})
            return True

    async def ensure_thread(self, thread: Mapping[str, Any]) -> ThreadRecord:
        """The thread, created from what is known when the desk has no record of it (the
        desk lost its memory, or the agent acts on a thread opened before a restart)."""
        async with self._lock:
            if thread["thread_id"] not in self._threads:
                await self._commit({"op": "thread", "thread": dict(thread), "opened": False})
            return self._threads[thread["thread_id"]]

    async def receive(self, thread_id: str, item: Mapping[str, Any], dedup: str | None) -> bool:
        """Add what the daemon sent to a known thread; False when `dedup` was seen."""
        async with self._lock:
            record = self._threads[thread_id]
            if dedup is not None and dedup in record.seen:
                return False
            await self._commit(
                {"op": "received", "thread_id": thread_id, "item": dict(item), "dedup": dedup}
            )
        self.wakeups.wake(thread_id)
        return True

    async def agent_update(
        self, thread_id: str, *, agent_name: str | None = None, status: Status | None = None
    ) -> None:
        """What the agent did (joined, answered, closed) to a known thread."""
        async with self._lock:
            record = self._threads[thread_id]
            if (agent_name or record.agent_name) == record.agent_name and (
                status or record.status
            ) == record.status:
                return  # nothing changes: keep the journal short
            await self._commit({
                "op": "agent",
                "thread_id": thread_id,
                "agent_name": agent_name,
                "status": status.value if status else None,
            })

    async def _commit(self, record: dict[str, Any]) -> None:
        record["at"] = self._now().isoformat()
        if self.path is not None:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            await asyncio.to_thread(_append_line, self.path, line)
        self._apply(record)

    # --- applying records (live and at replay) --------------------------------------

    def _apply(self, record: Mapping[str, Any]) -> None:
        self._apply_op[record["op"]](record)

    def _apply_thread(self, record: Mapping[str, Any]) -> None:
        t = record["thread"]
        if t["thread_id"] in self._threads:
            return
        at = record["at"]
        thread = ThreadRecord(
            thread_id=t["thread_id"],
            conversation_id=t["conversation_id"],
            tenant=t["tenant"],
            channel=t["channel"],
            language=t["language"],
            signal=t.get("signal"),
            context=dict(t.get("context") or {}),
            transcript=list(t.get("transcript") or []),
            opened_at=at,
            updated_at=at,
        )
        if record.get("opened"):
            opened = {"index": 1, "type": "opened", "at": at, "signal": thread.signal}
            thread.received.append(opened)
        self._threads[thread.thread_id] = thread

    def _apply_received(self, record: Mapping[str, Any]) -> None:
        thread = self._threads[record["thread_id"]]
        item = {"index": len(thread.received) + 1, "at": record["at"], **record["item"]}
        thread.received.append(item)
        thread.updated_at = record["at"]
        if record.get("dedup"):
            thread.seen.add(record["dedup"])
        if item.get("type") == "closed":
            thread.status = Status.CLOSED

    def _apply_agent(self, record: Mapping[str, Any]) -> None:
        thread = self._threads[record["thread_id"]]
        if record.get("agent_name"):
            thread.agent_name = record["agent_name"]
        if record.get("status"):
            thread.status = Status(record["status"])
        thread.updated_at = record["at"]


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch()
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        # End a torn last line, or the next record would be glued onto it and lost.
        _append_line(path, "")
    return text


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as journal:
        journal.write(line + "\n")
