"""Internal notes: what agents write on a thread for each other, never for the citizen.

A note is a record `inote:<thread id>:<note id>` in the console's state, so agents on
every instance see it in the thread. It never becomes an event of the core: it is not in
the conversation's transcript, so no channel, widget, bot or transcript export can get
it. `note_id` is made by the page (like a reply's `message_id`): a retried post stores
the note once. The record names its conversation, so erasure and retention delete it,
and it is forgotten with its thread (journal.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.console.journal import INTERNAL_NOTE, ThreadRow
from handover.sdk.state import AdapterState

__all__ = ["PARTY", "InternalNote", "InternalNotes", "merge_into"]

#: The transcript party the page shows an internal note as.
PARTY = "internal"
#: Notes of one thread read at most.
MAX_NOTES = 500


@dataclass(frozen=True, slots=True)
class InternalNote:
    note_id: str
    text: str
    at: datetime
    agent_id: str
    agent_name: str
    #: Why the console wrote it: None for an agent's own note, else "transfer",
    #: "queue" or "reoffer" (the hand-off it tells about).
    kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "at": self.at.isoformat(), "agent_id": self.agent_id,
                "agent_name": self.agent_name, "kind": self.kind}


class InternalNotes:
    """The internal notes of one console instance's threads."""

    def __init__(self, state: AdapterState) -> None:
        self.state = state

    async def add(self, row: ThreadRow, note: InternalNote) -> bool:
        """Store a note; False when a note with this id is there already (a retry)."""
        version = await self.state.put(
            f"{INTERNAL_NOTE}{row.thread_id}:{note.note_id}", note.to_json(),
            expect_version=0, conversation_id=row.conversation_id,
        )  # fmt: skip
        return version is not None

    async def of(self, thread_id: str) -> list[InternalNote]:
        notes = [
            _from_json(key.rsplit(":", 1)[-1], record.value)
            for key, record in await self.state.scan(f"{INTERNAL_NOTE}{thread_id}:",
                                                     limit=MAX_NOTES)
        ]
        notes.sort(key=lambda n: (n.at, n.note_id))
        return notes


def _from_json(note_id: str, d: Mapping[str, Any]) -> InternalNote:
    return InternalNote(note_id=note_id, text=str(d["text"]),
                        at=datetime.fromisoformat(d["at"]), agent_id=str(d["agent_id"]),
                        agent_name=str(d["agent_name"]), kind=d.get("kind"))


def merge_into(items: list[dict[str, Any]], notes: Sequence[InternalNote]) -> None:
    """Put the notes into a thread's transcript items, in time order (party
    `internal`, marked so for the page), after entries of the same instant."""
    items.extend(
        {
            "seq": 0,
            "message_id": f"internal-{n.note_id}",
            "party": PARTY,
            "sender_name": n.agent_name,
            "text": n.text,
            "kind": n.kind,
            "buttons": [],
            "attachments": [],
            "created_at": n.at.isoformat(),
        }
        for n in notes
    )
    items.sort(key=lambda x: x["created_at"] or "")
