"""`handover report`: how the handovers of one tenant went in a period, per channel.

Made from metadata only (conversations, handover events, survey scores), so it can be
made for any period within the metadata retention, also after the bodies are gone.

Counting rules:
- conversations: started in the period.
- handed over: conversations queued at the desk, or put through to the desk's phone
  line (a transfer, whatever its outcome), at least once in the period; the share is
  over the conversations started in the period, so a conversation started just before
  the period and handed over in it counts in the numerator only.
- transferred / transfer failed: calls the phone line took / did not take (a transfer
  that hung up before the gateway confirmed it counts as neither).
- wait: from queueing at the desk until an agent answered (answered handovers only);
  percentiles by nearest rank.
- abandoned: the citizen left while queued; the share is over the handovers queued.
- outside hours: requests for a person when the desk was closed; no agents: the desk
  said nobody was available; consent declined: the citizen said no to being handed
  over; desk failures: the desk could not take the conversation.
- callback requests (contactverzoeken, handover/control/callback.py): offered where
  nobody could take the chat; completed (stored with a reference); declined (no
  consent: said no, moved on or did not answer); abandoned (consented, then stopped,
  timed out or left); registered: deliveries to a registration target (one per target,
  so a tenant with two targets counts each completed request twice).
- NPS: survey answers given in the period (see nps.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from handover.evaluation.nps import NpsSummary, summarise
from handover.evaluation.period import Period
from handover.model import HandoverEvent, SurveyAnswer
from handover.store.base import Store

PERCENTILES = (50, 75, 90, 95)
ALL = "all"
#: The events that mean "handed to a person": queued at the desk (chat), or a transfer
#: to the desk's phone line started (spoken channels; see handover/control/transfer.py).
_HANDED_OVER = frozenset({"queued", "transferring"})
#: The steps of a callback request the report counts (handover events "callback_<step>").
CALLBACK_STEPS = ("offered", "completed", "declined", "abandoned", "registered")
_CALLBACK_EVENTS = {f"callback_{step}": step for step in CALLBACK_STEPS}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values` (not empty)."""
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


@dataclass(slots=True)
class ChannelReport:
    conversations: int = 0
    handed_over: int = 0
    queued: int = 0
    answered: int = 0
    abandoned: int = 0
    timeouts: int = 0
    outside_hours: int = 0
    unavailable: int = 0
    declined: int = 0
    desk_failed: int = 0
    transferred: int = 0
    transfer_failed: int = 0
    #: Callback requests by step reached: offered, completed, declined, abandoned,
    #: registered (the handover event is "callback_<step>").
    callbacks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CALLBACK_STEPS, 0))
    waits: list[float] = field(default_factory=list)
    nps: NpsSummary = field(default_factory=lambda: summarise(()))

    @property
    def handover_share(self) -> float | None:
        return _share(self.handed_over, self.conversations)

    @property
    def abandoned_share(self) -> float | None:
        return _share(self.abandoned, self.queued)

    def wait_percentiles(self) -> dict[str, float | None]:
        ordered = sorted(self.waits)
        return {
            f"p{p}": round(percentile(ordered, p), 1) if ordered else None for p in PERCENTILES
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "handed_over": self.handed_over,
            "handover_share": self.handover_share,
            "queued": self.queued,
            "answered": self.answered,
            "wait_seconds": self.wait_percentiles(),
            "abandoned_while_waiting": self.abandoned,
            "abandoned_share": self.abandoned_share,
            "queue_timeouts": self.timeouts,
            "no_agents_available": self.unavailable,
            "consent_declined": self.declined,
            "desk_failures": self.desk_failed,
            "transferred": self.transferred,
            "transfer_failures": self.transfer_failed,
            "outside_hours_requests": self.outside_hours,
            "callback_requests": dict(self.callbacks),
            "nps": self.nps.to_json(),
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(slots=True)
class Report:
    tenant: str
    period: Period
    channels: dict[str, ChannelReport]

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "period": {"first": self.period.first.isoformat(),
                       "last": self.period.last.isoformat()},
            "channels": {name: r.to_json() for name, r in self.channels.items()},
        }  # fmt: skip


async def build_report(store: Store, tenant: str, period: Period) -> Report:
    """Raises StoreError when the store cannot serve."""
    since, until = period.since, period.until
    counts = await store.conversation_counts(tenant, since, until)
    events = await store.handover_events(tenant, since=since, until=until)
    answers = await store.survey_answers(tenant, since=since, until=until)
    return Report(tenant, period, tally(counts, events, answers))


def tally(
    counts: dict[str, int], events: Iterable[HandoverEvent], answers: Iterable[SurveyAnswer]
) -> dict[str, ChannelReport]:
    """Per channel and for all channels together (under "all", listed first)."""
    reports: dict[str, ChannelReport] = defaultdict(ChannelReport)
    handed_over: dict[str, set[str]] = defaultdict(set)
    per_channel_answers: dict[str, list[SurveyAnswer]] = defaultdict(list)
    for channel, n in counts.items():
        reports[channel].conversations += n
        reports[ALL].conversations += n
    for e in events:
        for key in (e.channel, ALL):
            r = reports[key]
            if e.event in _HANDED_OVER:
                handed_over[key].add(e.conversation_id)
            if e.event == "queued":
                r.queued += 1
            elif e.event == "answered":
                r.answered += 1
                if e.wait_seconds is not None:
                    r.waits.append(e.wait_seconds)
            elif e.event == "abandoned" and e.wait_seconds is not None:
                r.abandoned += 1
            elif e.event == "timeout":
                r.timeouts += 1
            elif e.event == "outside_hours":
                r.outside_hours += 1
            elif e.event == "unavailable":
                r.unavailable += 1
            elif e.event == "declined":
                r.declined += 1
            elif e.event == "desk_failed":
                r.desk_failed += 1
            elif e.event == "transferred":
                r.transferred += 1
            elif e.event == "transfer_failed":
                r.transfer_failed += 1
            elif e.event in _CALLBACK_EVENTS:
                r.callbacks[_CALLBACK_EVENTS[e.event]] += 1
    for a in answers:
        per_channel_answers[a.channel].append(a)
        per_channel_answers[ALL].append(a)
    for key, ids in handed_over.items():
        reports[key].handed_over = len(ids)
    for key, given in per_channel_answers.items():
        reports[key].nps = summarise(given)
    # reports[ALL] first: an empty period still reports "all" (defaultdict creates it).
    return {ALL: reports[ALL], **{k: v for k, v in sorted(reports.items()) if k != ALL}}


def _fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def render_text(report: Report) -> str:
    """A plain table, one column per channel, for the terminal or an e-mail."""
    names = list(report.channels)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, values: Iterable[str]) -> None:
        rows.append((label, list(values)))

    rs = [report.channels[n] for n in names]
    row("conversations", (str(r.conversations) for r in rs))
    row("handed over", (str(r.handed_over) for r in rs))
    row("share handed over", (_fmt_share(r.handover_share) for r in rs))
    row("queued at the desk", (str(r.queued) for r in rs))
    row("answered by an agent", (str(r.answered) for r in rs))
    for p in PERCENTILES:
        row(f"wait p{p} (s)", (_fmt(r.wait_percentiles()[f"p{p}"]) for r in rs))
    row("abandoned while waiting", (str(r.abandoned) for r in rs))
    row("share abandoned", (_fmt_share(r.abandoned_share) for r in rs))
    row("queue timeouts", (str(r.timeouts) for r in rs))
    row("no agents available", (str(r.unavailable) for r in rs))
    row("consent declined", (str(r.declined) for r in rs))
    row("desk failures", (str(r.desk_failed) for r in rs))
    row("transferred by phone", (str(r.transferred) for r in rs))
    row("failed transfers", (str(r.transfer_failed) for r in rs))
    row("outside-hours requests", (str(r.outside_hours) for r in rs))
    for step in CALLBACK_STEPS:
        row(f"callback requests {step}", (str(r.callbacks[step]) for r in rs))
    row("NPS", (_fmt(r.nps.score) for r in rs))
    row("survey answers", (str(r.nps.answered) for r in rs))
    row("surveys unanswered", (str(r.nps.unanswered) for r in rs))

    label_width = max(len(label) for label, _ in rows)
    widths = [max(len(n), *(len(values[i]) for _, values in rows)) for i, n in enumerate(names)]
    lines = [f"handover report: {report.tenant}, {report.period}", ""]
    header = "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    lines.append(" " * label_width + "  " + header)
    for label, values in rows:
        cells = "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        lines.append(f"{label.ljust(label_width)}  {cells}")
    return "\n".join(lines) + "\n"
