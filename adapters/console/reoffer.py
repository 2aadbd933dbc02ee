"""A silent agent's chat offered back to the queue.

When the citizen has waited `reoffer_after_seconds` for an answer from the agent who
holds the chat (their last message, or the pick-up if that came later, is that old and
no agent answered since; or the agent said nothing at all that long after picking the
chat up), the chat goes back to the waiting list with its history, the
agent's page is told (`{"type": "reoffered", "thread_id", "agent_id"}`), and an internal
note on the thread says why. Another agent picks it up as any waiting chat; the citizen
then hears the new agent's name.

Every instance runs the watch (`run`, a background task through `ctx.spawn`). The
hand-back is a compare-and-set on the thread that also names the pick-up it looked at
(`Journal.requeue(held_since=...)`): of two instances that both see the silence, one
hands the chat back and the other finds it changed and does nothing, and a chat that
was handed on and picked up again meanwhile is not touched. An answer that lands between
the watch's look at the transcript and its write does not stop the hand-back: the
citizen has the answer, and the chat waits for whoever picks it up next.

Set the time below the tenant's `agent_inactivity_seconds`: the core hands the citizen
back to the bot after that much agent silence, which a re-offer does not reset.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from adapters.console.journal import Journal, Status, ThreadRow
from adapters.console.notes import InternalNote, InternalNotes
from adapters.console.view import effective_status
from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext
from handover.sdk.model import Party, TranscriptEntry, parse_thread_id

__all__ = ["SilenceWatch"]

#: Transcript entries read per held chat and round.
TAIL = 30
Announce = Callable[[str, Mapping[str, Any]], Awaitable[None]]
Publish = Callable[[str], Awaitable[Any]]


class SilenceWatch:
    """Offers chats whose citizen waits too long for their agent back (see above)."""

    def __init__(self, ctx: AdapterContext, source: str, journal: Journal,
                 notes: InternalNotes, announce: Announce, publish: Publish,
                 after_seconds: float) -> None:
        self.ctx = ctx
        self.source = source
        self.journal = journal
        self.notes = notes
        self.announce = announce
        self.publish = publish
        self.after = timedelta(seconds=after_seconds)

    @property
    def every_seconds(self) -> float:
        """How often the watch looks: a tenth of the time, between 1 s and 30 s."""
        return min(30.0, max(1.0, self.after.total_seconds() / 10))

    async def run(self) -> None:
        """Sweep until cancelled; a failed sweep (store away) is logged and retried."""
        while True:
            await self.ctx.clock.sleep(self.every_seconds)
            try:
                await self.sweep()
            except Exception:
                self.ctx.log.warning("console.reoffer_failed", exc_info=True)

    async def sweep(self) -> list[str]:
        """One round: returns the threads this instance offered back."""
        now = self.ctx.clock.now()
        offered = []
        for row in await self.journal.threads(self.ctx.tenants(), closed_since=now):
            if row.status is Status.ACTIVE and row.agent_id and row.taken_at \
                    and now - row.taken_at >= self.after and await self._waiting(row, now) \
                    and await self._offer_back(row, now):
                offered.append(row.thread_id)
        return offered

    async def _waiting(self, row: ThreadRow, now: datetime) -> bool:
        """Whether the citizen's last word (since the pick-up) is unanswered for too long."""
        conv = await self.ctx.get_conversation(row.conversation_id)
        if conv is None or effective_status(row, conv) is not Status.ACTIVE:
            return False
        parsed = parse_thread_id(row.thread_id)
        number = parsed[1] if parsed else 0
        entries = [e for e in await self.ctx.transcript_tail(conv.id, TAIL)
                   if e.party in (Party.CITIZEN, Party.AGENT)
                   and (not number or e.handover_no == number)]
        last = _last(entries)
        assert row.taken_at is not None
        if last is None:
            # Nobody said anything since the handover: the citizen who asked for a
            # person waits for the agent's first word since the pick-up.
            return now - row.taken_at >= self.after
        if last.party is not Party.CITIZEN or last.created_at is None:
            return False
        return now - max(last.created_at, row.taken_at) >= self.after

    async def _offer_back(self, row: ThreadRow, now: datetime) -> bool:
        assert row.agent_id is not None and row.agent_name is not None
        moved = await self.journal.requeue(row.thread_id, row.agent_id, row.agent_name,
                                           kind="reoffer", held_since=row.taken_at)
        if moved is None:
            return False  # answered, closed, or another instance was first
        seconds = round(self.after.total_seconds())
        waited = f"{seconds} s" if seconds < 60 else f"{round(seconds / 60)} min"
        await self.notes.add(moved, InternalNote(
            note_id=f"handoff-{moved.handoffs}", at=now, agent_id=row.agent_id,
            agent_name=row.agent_name, kind="reoffer",
            text=f"Teruggezet in de wachtrij: de inwoner wachtte {waited} op een "
                 f"antwoord van {row.agent_name}.",
        ))
        try:
            await self.ctx.ingest(ev.AgentTransferred(
                conversation_id=row.conversation_id, source=self.source,
                source_id=f"transfer:{row.thread_id}:{moved.handoffs}",
                thread=row.thread_id, agent_name=None,
            ))
        except Exception:
            # The core's record of the hand-back is bookkeeping: the chat waits anyway.
            self.ctx.log.warning("console.reoffer_ingest_failed", thread_id=row.thread_id,
                                 exc_info=True)
        self.ctx.log.info("console.reoffered", thread_id=row.thread_id, agent_id=row.agent_id)
        await self.announce(row.tenant, {"type": "reoffered", "thread_id": row.thread_id,
                                         "agent_id": row.agent_id})
        await self.publish(row.thread_id)
        return True


def _last(entries: list[TranscriptEntry]) -> TranscriptEntry | None:
    return max(entries, key=lambda e: e.seq) if entries else None
