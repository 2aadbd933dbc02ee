"""`handover transcripts sample`: a random sample of one tenant's conversations as JSON
lines, for quality review, with personal data masked (see personal.py).

One line per conversation: channel, language, when it started, the page context
without identity keys, each handover (reason, when queued, wait, what happened, how it
ended), the survey answers and the transcript (party, time, masked text; agents appear
as "agent", never by name). Conversations whose bodies retention already removed are
listed with an empty transcript and `bodies_purged: true`.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from handover import control
from handover.config.model import TenantConfig
from handover.evaluation.period import Period
from handover.evaluation.personal import PersonalData, public_context
from handover.model import HandoverEvent, SurveyAnswer, TranscriptEntry
from handover.store.base import Store

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class SampleSize:
    """Either a share of the conversations (0 < rate <= 1) or a number of them."""

    rate: float | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if (self.rate is None) == (self.count is None):
            raise ValueError("give either a rate or a count")
        if self.rate is not None and not 0 < self.rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {self.rate}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")

    def of(self, population: int) -> int:
        if self.count is not None:
            return min(self.count, population)
        assert self.rate is not None
        # Round, but a non-empty population with a positive rate gives at least one.
        return min(population, max(1, round(self.rate * population))) if population else 0


def choose(ids: Sequence[str], size: SampleSize, seed: int | None) -> list[str]:
    """A uniform random sample without replacement, in the order of `ids`."""
    picked = set(random.Random(seed).sample(list(ids), size.of(len(ids))))
    return [i for i in ids if i in picked]


async def sample(
    store: Store,
    tenant: TenantConfig,
    period: Period,
    size: SampleSize,
    out: TextIO,
    *,
    seed: int | None = None,
    handovers_only: bool = False,
) -> int:
    """Write the sample to `out`; returns how many conversations it holds.

    `handovers_only` samples among the conversations queued at the desk at least once.
    Raises StoreError when the store cannot serve.
    """
    ids = await store.conversation_ids(tenant.id, period.since, period.until)
    if handovers_only:
        queued = {
            e.conversation_id
            for e in await store.handover_events(tenant.id, since=period.since)
            if e.event == "queued"
        }
        ids = [i for i in ids if i in queued]
    written = 0
    for conversation_id in choose(ids, size, seed):
        record = await conversation_record(store, tenant, conversation_id)
        if record is not None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return written


async def _transcript(store: Store, conversation_id: str) -> list[TranscriptEntry]:
    return [entry async for entry in store.transcript_all(conversation_id, _PAGE)]


async def conversation_record(
    store: Store, tenant: TenantConfig, conversation_id: str
) -> dict[str, Any] | None:
    """One conversation as exported, masked; None when it is gone."""
    conv = await store.get_conversation(conversation_id)
    if conv is None:
        return None
    transcript = await _transcript(store, conv.id)
    events = await store.handover_events(conversation_id=conv.id)
    answers = await store.survey_answers(conversation_id=conv.id)
    mask = PersonalData.of(conv, transcript, tenant.catalogue)
    return {
        "conversation_id": conv.id,
        "tenant": conv.tenant,
        "channel": conv.channel,
        "language": conv.language,
        "started_at": conv.created_at.isoformat() if conv.created_at else None,
        "last_activity_at": conv.updated_at.isoformat() if conv.updated_at else None,
        "state": conv.state.value,
        "bodies_purged": conv.channel_key.startswith(("purged:", "erased:")),
        "context": mask.mask_value(public_context(control.public_context(conv.context))),
        "handovers": _handovers(events),
        "survey": [_answer(a, mask) for a in answers],
        "transcript": [_entry(e, mask) for e in transcript],
    }


def _handovers(events: Sequence[HandoverEvent]) -> list[dict[str, Any]]:
    by_number: dict[int, list[HandoverEvent]] = defaultdict(list)
    for e in events:
        by_number[e.handover_no].append(e)
    out = []
    for number, group in sorted(by_number.items()):
        queued = next((e for e in group if e.event == "queued"), None)
        waits = [e.wait_seconds for e in group if e.wait_seconds is not None]
        ended = next((e for e in group if e.event == "ended"), None)
        out.append({
            "handover_no": number,
            "reason": next((e.reason for e in group if e.reason), None),
            "queued_at": queued.at.isoformat() if queued else None,
            "wait_seconds": round(waits[0], 1) if waits else None,
            "events": [e.event for e in group],
            "outcome": ended.outcome if ended else None,
        })  # fmt: skip
    return out


def _answer(a: SurveyAnswer, mask: PersonalData) -> dict[str, Any]:
    return {
        "handover_no": a.handover_no,
        "score": a.score,
        "comment": mask.mask(a.comment) if a.comment else None,
        "outcome": a.outcome,
        "answered_at": a.answered_at.isoformat(),
    }


def _entry(e: TranscriptEntry, mask: PersonalData) -> dict[str, Any]:
    content = e.content
    entry: dict[str, Any] = {
        "seq": e.seq,
        "at": e.created_at.isoformat() if e.created_at else None,
        "party": e.party.value,
        "text": mask.mask(content.text),
    }
    if content.buttons:
        entry["buttons"] = [mask.mask(b.title) for b in content.buttons]
    if content.attachments:
        # The file itself is not exported; its name may be personal ("paspoort-jan.pdf").
        entry["attachments"] = [a.mime_type for a in content.attachments]
    return entry

