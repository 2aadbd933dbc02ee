"""The NPS (satisfaction) answers: the score, and the export as CSV or JSON lines.

NPS = % promoters (9-10) - % detractors (0-6) of the answers with a score, from -100
to +100. Unanswered surveys (skipped, timed out, or the citizen moved on) are exported
with an empty score and left out of the NPS.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

from handover.config.model import TenantConfig
from handover.evaluation.personal import PersonalData
from handover.metrics import DETRACTOR, PASSIVE, PROMOTER, nps_category
from handover.model import SurveyAnswer
from handover.store.base import Store

ExportFormat = Literal["csv", "jsonl"]
#: Cell starts a spreadsheet reads as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("answered_at", "tenant", "channel", "conversation_id", "handover_no", "outcome",
           "score", "category", "comment")  # fmt: skip


@dataclass(frozen=True, slots=True)
class NpsSummary:
    answered: int
    promoters: int
    passives: int
    detractors: int
    unanswered: int

    @property
    def score(self) -> float | None:
        """The NPS, or None when no survey got a score."""
        if not self.answered:
            return None
        return round(100.0 * (self.promoters - self.detractors) / self.answered, 1)

    def to_json(self) -> dict[str, object]:
        return {
            "nps": self.score, "answered": self.answered, "promoters": self.promoters,
            "passives": self.passives, "detractors": self.detractors,
            "unanswered": self.unanswered,
        }  # fmt: skip


def summarise(answers: Iterable[SurveyAnswer]) -> NpsSummary:
    counts = {PROMOTER: 0, PASSIVE: 0, DETRACTOR: 0}
    unanswered = 0
    for answer in answers:
        if answer.score is None:
            unanswered += 1
        else:
            counts[nps_category(answer.score)] += 1
    return NpsSummary(sum(counts.values()), counts[PROMOTER], counts[PASSIVE],
                      counts[DETRACTOR], unanswered)  # fmt: skip


async def export(
    store: Store,
    tenant: TenantConfig,
    answers: Sequence[SurveyAnswer],
    out: TextIO,
    fmt: ExportFormat,
) -> int:
    """Write `answers` to `out`; returns how many rows were written.

    Comments are free text from citizens, so they are masked like the transcript
    export (see personal.py). Raises StoreError when the store cannot serve.
    """
    masks: dict[str, PersonalData] = {}
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for a in answers:
        comment = None
        if a.comment:
            mask = masks.get(a.conversation_id)
            if mask is None:
                mask = masks[a.conversation_id] = await _mask_for(store, tenant, a.conversation_id)
            comment = mask.mask(a.comment)
        row = {
            "answered_at": a.answered_at.isoformat(), "tenant": a.tenant, "channel": a.channel,
            "conversation_id": a.conversation_id, "handover_no": a.handover_no,
            "outcome": a.outcome, "score": a.score,
            "category": nps_category(a.score), "comment": comment,
        }  # fmt: skip
        if writer is not None:
            # Free text from citizens (the comment) and from the desk (the closing
            # outcome an agent typed) must stay text when the file is opened in a
            # spreadsheet: "=HYPERLINK(...)" in any cell is neutralised (OWASP CSV
            # injection advice). Every string cell is checked, not a chosen few.
            writer.writerow({k: _cell(v) for k, v in row.items()})
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(answers)


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def _mask_for(store: Store, tenant: TenantConfig, conversation_id: str) -> PersonalData:
    conv = await store.get_conversation(conversation_id)
    if conv is None:
        return PersonalData((), ())
    # Every entry: a name said after the first page must be masked too.
    entries = [entry async for entry in store.transcript_all(conv.id)]
    return PersonalData.of(conv, entries, tenant.catalogue)
