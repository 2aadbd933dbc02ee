"""Privacy: erasing one conversation on request, and retention of everything else."""

from __future__ import annotations

import abc
from datetime import datetime


class RetentionStore(abc.ABC):
    """Removing personal data. All raise StoreError; a call that raised wrote nothing."""

    @abc.abstractmethod
    async def erase_conversation(self, conversation_id: str) -> bool:
        """Delete bodies and identity of one conversation; False when unknown. Called by
        the admin API on an operator's request.

        Removed: the transcript and desk notes, pending outbox items, dead letters,
        timers, adapter state records naming it, the context, the channel key (the
        citizen's identity on the channel), the agent's name and survey comments.
        Kept: the conversation's state and counters, survey scores and handover events
        (no personal data in them). The version is raised, so a step computed before
        the erasure conflicts.
        """

    @abc.abstractmethod
    async def purge_bodies(
        self, tenant: str, inactive_before: datetime, now: datetime, limit: int
    ) -> int:
        """Remove the bodies of up to `limit` conversations of `tenant` with no activity
        since `inactive_before`; returns how many conversations were purged. Called in
        a loop by the retention job (evaluation/retention.py) until it returns 0.

        Bodies: the transcript, desk notes, dead letters (their payloads carry text),
        adapter state records naming the conversation,
        survey comments, the context and the agent's name; the channel key is replaced
        so a returning citizen starts a new conversation. Kept: the conversation's
        metadata, survey scores, handover events. A purged conversation is not selected
        again unless it was active after its purge, so calling until 0 terminates; each
        call is one short transaction.
        """

    @abc.abstractmethod
    async def purge_metadata(self, tenant: str, inactive_before: datetime, limit: int) -> int:
        """Delete up to `limit` conversations of `tenant` with no activity since
        `inactive_before`, with everything that refers to them (handover events, survey
        answers, timers, outbox items...); returns how many. Called in a loop by the
        retention job until it returns 0; each call is one short transaction.
        """
