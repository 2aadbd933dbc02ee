"""The console's durable memory: its desk threads, who holds them, and desk notes.

Kept as records in the core's store (`AdapterContext.state`), not in a file of the
console's own: every daemon instance on one database sees the same threads, so an agent
signed in to any instance sees and answers a thread that another instance received. The
core knows the conversation and its transcript, but not which agent of this console took
a thread, when it was queued here, or the notes the daemon sent the agent. Together with
the core's store this rebuilds the whole view after a restart.

Records (keys in the console instance's namespace):

- `thread:<thread id>`: the thread (`ThreadRow` as JSON), naming its conversation, so
  erasure and retention delete it;
- `note:<thread id>:<time>:<random>`: one desk note, in time order by key;
- `inote:<thread id>:<note id>`: one agents' internal note (notes.py).

Every change of a thread is a compare-and-set on its version, retried on a conflict
with the state it lost to: a pick-up succeeds only for a thread that is still queued and
unheld when the write lands, so two agents racing for one thread on two instances cannot
both win, whatever the interleaving.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from handover.sdk.state import AdapterState, StateRecord

__all__ = ["INTERNAL_NOTE", "Journal", "Note", "Status", "ThreadRow"]

_THREAD = "thread:"
_NOTE = "note:"
#: The key prefix of agents' internal notes (notes.py); forgotten with their thread.
INTERNAL_NOTE = "inote:"
#: A compare-and-set that keeps losing is a store in trouble, not a busy thread.
_CAS_ATTEMPTS = 20
#: Threads the list and the availability check read at most (open ones and those closed
#: in the last hours; far more than a console serves at once).
MAX_THREADS = 5000


class Status(StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ThreadRow:
    thread_id: str
    conversation_id: str
    tenant: str
    channel: str
    language: str
    #: The handover signal as JSON; None for a thread known only from a later event.
    signal: Mapping[str, Any] | None
    context: Mapping[str, Any]
    opened_at: datetime
    status: Status
    agent_id: str | None = None
    agent_name: str | None = None
    taken_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    close_reason: str | None = None
    #: The team (a configured `teams` id) a chat was transferred to while it waits.
    team: str | None = None
    #: How often the chat went from one agent to another or back to the queue: part of
    #: the pick-up's dedup key, so that a second pick-up by an earlier holder counts.
    handoffs: int = 0
    #: The last hand-off: {"kind": "transfer" | "queue" | "reoffer", "from": agent name}.
    handoff: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id, "conversation_id": self.conversation_id,
            "tenant": self.tenant, "channel": self.channel, "language": self.language,
            "signal": None if self.signal is None else dict(self.signal),
            "context": dict(self.context), "opened_at": self.opened_at.isoformat(),
            "status": self.status.value, "agent_id": self.agent_id,
            "agent_name": self.agent_name, "taken_at": _iso(self.taken_at),
            "closed_at": _iso(self.closed_at), "outcome": self.outcome,
            "close_reason": self.close_reason, "team": self.team,
            "handoffs": self.handoffs,
            "handoff": None if self.handoff is None else dict(self.handoff),
        }  # fmt: skip

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ThreadRow:
        return cls(
            thread_id=d["thread_id"], conversation_id=d["conversation_id"],
            tenant=d["tenant"], channel=d["channel"], language=d["language"],
            signal=d.get("signal"), context=d.get("context") or {},
            opened_at=datetime.fromisoformat(d["opened_at"]), status=Status(d["status"]),
            agent_id=d.get("agent_id"), agent_name=d.get("agent_name"),
            taken_at=_when(d.get("taken_at")), closed_at=_when(d.get("closed_at")),
            outcome=d.get("outcome"), close_reason=d.get("close_reason"),
            team=d.get("team"), handoffs=int(d.get("handoffs") or 0),
            handoff=d.get("handoff"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    at: datetime


class Journal:
    """The threads of one console instance, in `state` (its `AdapterContext.state`)."""

    def __init__(self, state: AdapterState) -> None:
        self.state = state

    # --- writing --------------------------------------------------------------------

    async def add_thread(self, row: ThreadRow) -> bool:
        """Record a thread; False when it is known already (a re-delivered open)."""
        version = await self.state.put(
            _THREAD + row.thread_id, row.to_json(), expect_version=0,
            conversation_id=row.conversation_id,
        )  # fmt: skip
        return version is not None

    async def claim(
        self, thread_id: str, agent_id: str, agent_name: str, at: datetime
    ) -> ThreadRow | None:
        """Give a queued thread to an agent. Returns the thread as it now is; its
        `agent_id` tells whether this agent holds it (also when it already did)."""

        def take(row: ThreadRow) -> ThreadRow | None:
            if row.status is not Status.QUEUED or row.agent_id is not None:
                return None
            return replace(row, status=Status.ACTIVE, agent_id=agent_id,
                           agent_name=agent_name, taken_at=at)

        return (await self._change(thread_id, take))[0]

    async def release(self, thread_id: str, agent_id: str) -> None:
        """Undo a claim the core did not accept."""

        def give_back(row: ThreadRow) -> ThreadRow | None:
            if row.agent_id != agent_id or row.status is not Status.ACTIVE:
                return None
            return replace(row, status=Status.QUEUED, agent_id=None, agent_name=None,
                           taken_at=None)

        await self._change(thread_id, give_back)

    async def close_thread(
        self, thread_id: str, at: datetime, *, outcome: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Mark a thread closed; False when it was closed already (the first close
        keeps its outcome and reason)."""

        def end(row: ThreadRow) -> ThreadRow | None:
            if row.status is Status.CLOSED:
                return None
            return replace(row, status=Status.CLOSED, closed_at=at, outcome=outcome,
                           close_reason=reason)

        return (await self._change(thread_id, end))[1]

    async def forget_closed(self, before: datetime) -> int:
        """Delete threads closed before `before` with their notes: the console keeps
        no personal data (page context, notes) longer than it shows it."""
        forgotten = 0
        for key, record in await self.state.scan(_THREAD, limit=MAX_THREADS):
            row = ThreadRow.from_json(record.value)
            if row.status is Status.CLOSED and row.closed_at is not None \
                    and row.closed_at < before:
                for prefix in (_note_prefix(row.thread_id),
                               f"{INTERNAL_NOTE}{row.thread_id}:"):
                    for note_key, _ in await self.state.scan(prefix):
                        await self.state.delete(note_key)
                if await self.state.delete(key, expect_version=record.version):
                    forgotten += 1
        return forgotten

    async def hand_over(
        self, thread_id: str, from_agent: str, from_name: str, to_agent: str, to_name: str,
        at: datetime,
    ) -> ThreadRow | None:
        """Give an agent's held thread to a colleague; None when `from_agent` does not
        hold it (any more) when the write lands."""

        def give(row: ThreadRow) -> ThreadRow | None:
            if row.status is not Status.ACTIVE or row.agent_id != from_agent:
                return None
            return replace(row, agent_id=to_agent, agent_name=to_name, taken_at=at,
                           team=None, handoffs=row.handoffs + 1,
                           handoff={"kind": "transfer", "from": from_name})

        changed, done = await self._change(thread_id, give)
        return changed if done else None

    async def requeue(
        self, thread_id: str, from_agent: str, from_name: str, *, kind: str,
        team: str | None = None, held_since: datetime | None = None,
    ) -> ThreadRow | None:
        """Put an agent's held thread back in the queue (for `team`, if given); None
        when `from_agent` does not hold it (any more), or, with `held_since`, holds it
        since another pick-up than the one the caller looked at."""

        def back(row: ThreadRow) -> ThreadRow | None:
            if row.status is not Status.ACTIVE or row.agent_id != from_agent:
                return None
            if held_since is not None and row.taken_at != held_since:
                return None
            return replace(row, status=Status.QUEUED, agent_id=None, agent_name=None,
                           taken_at=None, team=team, handoffs=row.handoffs + 1,
                           handoff={"kind": kind, "from": from_name})

        changed, done = await self._change(thread_id, back)
        return changed if done else None

    async def add_note(self, thread_id: str, text: str, at: datetime) -> None:
        row = await self.get(thread_id)
        # Time first, so a scan returns the notes in order; the random part keeps two
        # notes of one instant (or of two instances) apart.
        key = f"{_note_prefix(thread_id)}{at.timestamp():020.6f}:{secrets.token_hex(4)}"
        await self.state.put(key, {"text": text, "at": at.isoformat()},
                             conversation_id=row.conversation_id if row else None)

    # --- reading --------------------------------------------------------------------

    async def get(self, thread_id: str) -> ThreadRow | None:
        record = await self.state.get(_THREAD + thread_id)
        return None if record is None else ThreadRow.from_json(record.value)

    async def threads(
        self, tenants: Sequence[str], closed_since: datetime, limit: int = 500
    ) -> list[ThreadRow]:
        """Open threads of these tenants, and those closed since `closed_since`, oldest
        first (the longest-waiting citizen on top)."""
        wanted = set(tenants)
        rows = [
            row for row in await self._all()
            if row.tenant in wanted
            and (row.status is not Status.CLOSED
                 or (row.closed_at is not None and row.closed_at >= closed_since))
        ]  # fmt: skip
        rows.sort(key=lambda r: (r.opened_at, r.thread_id))
        return rows[:limit]

    async def held_by(self, agent_id: str | None) -> list[ThreadRow]:
        """The threads this agent (None: any agent) holds, as the journal has them
        (the core may have ended some: see workload.py)."""
        return [r for r in await self._all() if r.status is Status.ACTIVE
                and r.agent_id is not None and agent_id in (None, r.agent_id)]

    async def queued_count(self, tenant: str) -> int:
        return sum(1 for r in await self._all() if r.tenant == tenant and r.status is Status.QUEUED)

    async def notes(self, thread_id: str) -> list[Note]:
        return [
            Note(record.value["text"], datetime.fromisoformat(record.value["at"]))
            for _, record in await self.state.scan(_note_prefix(thread_id))
        ]

    # --- helpers --------------------------------------------------------------------

    async def _all(self) -> list[ThreadRow]:
        return [ThreadRow.from_json(r.value) for _, r in
                await self.state.scan(_THREAD, limit=MAX_THREADS)]

    async def _change(
        self, thread_id: str, change: Callable[[ThreadRow], ThreadRow | None]
    ) -> tuple[ThreadRow | None, bool]:
        """Apply `change` to the thread as a compare-and-set, re-reading after losing to
        a concurrent write; `change` returns None when the thread's current state does
        not allow it. Returns the thread as it now is and whether this call changed it."""
        key = _THREAD + thread_id
        for _ in range(_CAS_ATTEMPTS):
            record: StateRecord | None = await self.state.get(key)
            if record is None:
                return None, False
            row = ThreadRow.from_json(record.value)
            changed = change(row)
            if changed is None:
                return row, False
            if await self.state.put(key, changed.to_json(), expect_version=record.version,
                                    conversation_id=row.conversation_id) is not None:
                return changed, True
        raise RuntimeError(f"thread {thread_id}: too many concurrent changes")


def _note_prefix(thread_id: str) -> str:
    return f"{_NOTE}{thread_id}:"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
