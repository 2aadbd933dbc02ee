"""Reading the transcript (it is written by `commit` only).

Three reads, for three needs, so that no caller takes one page for the whole:
`transcript` is one page after a seq (resume and replay read on from the last seq they
got), `transcript_tail` is the last N (a window: the desk's opening history, a thread
view), `transcript_all` pages through everything (exports, masking, evaluation).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

from handover.model import TranscriptEntry

#: Entries per page of `transcript` (and of `transcript_all`).
PAGE = 1000


class TranscriptStore(abc.ABC):
    """What was said in a conversation."""

    @abc.abstractmethod
    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = PAGE
    ) -> list[TranscriptEntry]:
        """Citizen-visible entries with seq > after_seq, in seq order, at most `limit`.

        One page: a caller that needs everything uses `transcript_all`, one that needs
        the latest entries `transcript_tail`. Called when a citizen reconnects (to
        replay the gap since its last seen seq) and by the admin API. Raises StoreError.
        """

    @abc.abstractmethod
    async def transcript_tail(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        """The last `limit` citizen-visible entries, in seq order. Called for the
        desk's opening history and the agent's thread view. Raises StoreError."""

    async def transcript_all(
        self, conversation_id: str, page: int = PAGE
    ) -> AsyncIterator[TranscriptEntry]:
        """Every citizen-visible entry in seq order, read `page` entries at a time.
        Raises StoreError (possibly after some entries were yielded)."""
        after = 0
        while True:
            entries = await self.transcript(conversation_id, after, page)
            for entry in entries:
                yield entry
            if len(entries) < page:
                return
            after = entries[-1].seq

    @abc.abstractmethod
    async def desk_notes(self, conversation_id: str) -> list[TranscriptEntry]:
        """Entries not shown to the citizen (seq == 0), oldest first. Called by the
        admin API. Raises StoreError."""
