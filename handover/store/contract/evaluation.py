"""Reads for the evaluation reports, the survey export and the sample."""

from __future__ import annotations

import abc
from datetime import datetime

from handover.model import HandoverEvent, SurveyAnswer


class EvaluationStore(abc.ABC):
    """Records kept for evaluation (written by `commit` as survey answers and handover
    events). Called by the `handover report`, `nps` and `sample` commands
    (handover/evaluation/), never on the message path; these may scan tables. All
    raise StoreError."""

    @abc.abstractmethod
    async def survey_answers(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[SurveyAnswer]:
        """Answers, oldest first; each filter given narrows (answered_at in [since, until))."""

    @abc.abstractmethod
    async def handover_events(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        conversation_id: str | None = None,
    ) -> list[HandoverEvent]:
        """Handover events, oldest first; each filter given narrows (at in [since, until))."""

    @abc.abstractmethod
    async def conversation_counts(
        self, tenant: str, since: datetime, until: datetime
    ) -> dict[str, int]:
        """Conversations started in [since, until), per channel."""

    @abc.abstractmethod
    async def conversation_ids(self, tenant: str, since: datetime, until: datetime) -> list[str]:
        """Ids of the conversations started in [since, until), oldest first."""
