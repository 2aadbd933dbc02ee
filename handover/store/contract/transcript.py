"""Reading the transcript (it is written by `commit` only)."""

from __future__ import annotations

import abc

from handover.model import TranscriptEntry


class TranscriptStore(abc.ABC):
    """What was said in a conversation."""

    @abc.abstractmethod
    async def transcript(
        self, conversation_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[TranscriptEntry]:
        """Citizen-visible entries with seq > after_seq, in seq order.

        Called when a citizen reconnects (to replay the gap since its last seen seq),
        when a conversation is handed to the desk (the history so far) and by the admin
        API and the evaluation sample. Raises StoreError.
        """

    @abc.abstractmethod
    async def desk_notes(self, conversation_id: str) -> list[TranscriptEntry]:
        """Entries not shown to the citizen (seq == 0), oldest first. Called by the
        admin API. Raises StoreError."""
