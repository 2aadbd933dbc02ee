"""NPS, periods, the report's arithmetic, sampling and the masking of personal data."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from handover.evaluation.nps import export, summarise
from handover.evaluation.period import Period, parse_period
from handover.evaluation.personal import PersonalData, public_context
from handover.evaluation.report import ALL, Report, percentile, render_text, tally
from handover.evaluation.sample import SampleSize, choose
from handover.metrics import nps_category
from handover.model import (
    Content,
    Conversation,
    HandoverEvent,
    Party,
    SurveyAnswer,
    TranscriptEntry,
)
from handover.store import create_store
from handover.texts.catalogue import Catalogue
from tests.evaluation_support import tenant_config

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def answer(score: int | None, channel: str = "web") -> SurveyAnswer:
    return SurveyAnswer("c", "t", channel, 1, score, None, "resolved", AT)


# --- NPS ------------------------------------------------------------------------------


def test_nps_is_promoters_minus_detractors_over_scored_answers() -> None:
    summary = summarise(answer(s) for s in (10, 9, 8, 7, 6, 0, None, 9))
    assert (summary.promoters, summary.passives, summary.detractors) == (3, 2, 2)
    assert (summary.answered, summary.unanswered) == (7, 1)
    assert summary.score == round(100 * (3 - 2) / 7, 1) == 14.3
    assert summarise([answer(10)]).score == 100.0
    assert summarise([answer(0), answer(6)]).score == -100.0
    assert summarise([answer(None)]).score is None


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"),
     (10, "promoter"), (None, "unanswered")],
)  # fmt: skip
def test_nps_categories(score: int | None, category: str) -> None:
    assert nps_category(score) == category


# --- periods --------------------------------------------------------------------------


def test_periods_are_whole_days_in_amsterdam() -> None:
    day = parse_period("2026-03-02")
    assert day == Period(date(2026, 3, 2), date(2026, 3, 2))
    assert day.since == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # CET is UTC+1
    assert day.until == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert parse_period("2028-02") == Period(date(2028, 2, 1), date(2028, 2, 29))
    assert parse_period("2026-12") == Period(date(2026, 12, 1), date(2026, 12, 31))
    summer = parse_period("2026-07-01..2026-07-31")
    assert summer.since == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # CEST is UTC+2
    assert str(summer) == "2026-07-01..2026-07-31"


@pytest.mark.parametrize("text", ["", "maart", "2026-13", "2026-03-02..2026-03-01", "2026-3-2"])
def test_bad_periods_say_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


# --- the report -----------------------------------------------------------------------


def ev(conv: str, name: str, channel: str = "web", wait: float | None = None) -> HandoverEvent:
    return HandoverEvent(conv, "t", channel, 1, name, AT, wait_seconds=wait)


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert [percentile(values, p) for p in (50, 75, 90, 95, 100)] == [5, 8, 9, 10, 10]
    assert percentile([7.0], 50) == percentile([7.0], 95) == 7.0


def test_tally_per_channel_and_for_all() -> None:
    events = [
        ev("a", "queued"), ev("a", "answered", wait=30), ev("a", "ended"),
        ev("a", "queued"), ev("a", "answered", wait=90),  # a second handover, same conversation
        ev("b", "queued"), ev("b", "abandoned", wait=12),
        ev("c", "abandoned"),  # left during the availability check: never queued
        ev("d", "outside_hours"), ev("e", "unavailable"), ev("f", "declined"),
        ev("g", "desk_failed"), ev("g", "desk_failed"),
        ev("p", "queued", "phone"), ev("p", "timeout", "phone", wait=600),
    ]  # fmt: skip
    answers = [answer(9), answer(3), answer(None, "phone")]
    reports = tally({"web": 8, "phone": 2}, events, answers)
    assert list(reports) == [ALL, "phone", "web"]
    web, everything = reports["web"], reports[ALL]
    assert (web.conversations, web.handed_over, web.queued, web.answered) == (8, 2, 3, 2)
    assert web.handover_share == 0.25
    assert (web.abandoned, web.abandoned_share) == (1, round(1 / 3, 4))
    assert (web.outside_hours, web.unavailable, web.timeouts) == (1, 1, 0)
    assert (web.declined, web.desk_failed) == (1, 2)
    assert web.wait_percentiles() == {"p50": 30.0, "p75": 90.0, "p90": 90.0, "p95": 90.0}
    assert (web.nps.score, reports["phone"].nps.unanswered) == (0.0, 1)
    assert (everything.conversations, everything.handed_over, everything.timeouts) == (10, 3, 1)
    assert everything.handover_share == 0.3
    empty = tally({}, [], [])
    assert list(empty) == [ALL] and empty[ALL].handover_share is None
    assert empty[ALL].wait_percentiles()["p50"] is None


def test_phone_transfers_count_as_handed_over() -> None:
    # Three of four calls were put through to the desk's line (one of them failed): the
    # report shows 75 % handed over on the phone channel, not 0 %.
    events = [
        ev("c1", "transferring", "phone"), ev("c1", "transferred", "phone"),
        ev("c2", "transferring", "phone"), ev("c2", "transferred", "phone"),
        ev("c3", "transferring", "phone"), ev("c3", "transfer_failed", "phone"),
    ]  # fmt: skip
    phone = tally({"phone": 4}, events, [])["phone"]
    assert (phone.handed_over, phone.handover_share) == (3, 0.75)
    assert (phone.transferred, phone.transfer_failed, phone.queued) == (2, 1, 0)
    text = render_text(Report("t", parse_period("2026-03-02"), tally({"phone": 4}, events, [])))
    lines = {line.split("  ")[0].strip(): line.split() for line in text.splitlines()[2:]}
    assert lines["share handed over"][-1] == "75.0%"
    assert lines["failed transfers"][-1] == "1"


def test_report_as_text_and_json() -> None:
    reports = tally({"web": 4}, [ev("a", "queued"), ev("a", "answered", wait=20)], [answer(10)])
    report = Report("utrecht", parse_period("2026-03-02"), reports)
    text = render_text(report)
    assert text.startswith("handover report: utrecht, 2026-03-02..2026-03-02")
    lines = {line.split("  ")[0].strip(): line.split() for line in text.splitlines()[2:]}
    assert lines["share handed over"][-2:] == ["25.0%", "25.0%"]
    assert lines["wait p50 (s)"][-1] == "20"
    assert lines["NPS"][-1] == "100"
    data = json.loads(json.dumps(report.to_json()))
    assert data["period"] == {"first": "2026-03-02", "last": "2026-03-02"}
    assert data["channels"]["web"]["handover_share"] == 0.25
    assert data["channels"]["all"]["nps"]["nps"] == 100.0


# --- sampling -------------------------------------------------------------------------


def test_sample_size_by_rate_or_count() -> None:
    assert SampleSize(rate=0.1).of(95) == 10
    assert SampleSize(rate=0.01).of(20) == 1  # never an empty sample of a non-empty period
    assert SampleSize(rate=0.5).of(0) == 0
    assert SampleSize(count=5).of(3) == 3
    for bad in ({"rate": 0.0}, {"rate": 1.5}, {"count": 0}, {}, {"rate": 0.1, "count": 1}):
        with pytest.raises(ValueError):
            SampleSize(**bad)  # type: ignore[arg-type]


def test_choose_is_uniform_without_replacement_and_repeatable() -> None:
    ids = [f"c{n:03d}" for n in range(200)]
    picked = choose(ids, SampleSize(count=20), seed=7)
    assert len(set(picked)) == 20 and picked == sorted(picked)
    assert choose(ids, SampleSize(count=20), seed=7) == picked
    assert choose(ids, SampleSize(count=20), seed=8) != picked
    counts = dict.fromkeys(ids, 0)
    for seed in range(300):
        for i in choose(ids, SampleSize(rate=0.1), seed=seed):
            counts[i] += 1
    # Each id is expected 30 times; none is never or always picked.
    assert min(counts.values()) > 5 and max(counts.values()) < 70


# --- personal data --------------------------------------------------------------------


def conv(**context: object) -> Conversation:
    return Conversation("c1", "t", "whatsapp", "31612345678", "nl", context=context)


def said(text: str, party: Party = Party.CITIZEN, sender: str | None = None) -> TranscriptEntry:
    return TranscriptEntry("c1", 1, party, Content(text=text), "m", sender_name=sender)


def test_known_names_and_identifiers_are_masked() -> None:
    c = conv(profile={"name": "Jan de Vries"}, wa_id="31612345678", url="https://x.nl/?q=1")
    mask = PersonalData.of(c, [said("Hoi", Party.AGENT, "Sanne Bakker")])
    text = mask.mask(
        "Ik ben Jan de Vries (jan: 31612345678), vraag voor Vries en Sanne. Januari de "
        "Vriesland JAN"
    )
    assert text == (
        "Ik ben [NAME] ([NAME]: [ID]), vraag voor [NAME] en [NAME]. Januari de Vriesland [NAME]"
    )
    assert public_context(c.context) == {"profile": {}, "url": "https://x.nl/?q=1"}


def test_patterns_are_masked_too() -> None:
    mask = PersonalData.of(conv(), [])
    text = mask.mask("bsn 111222333, NL91ABNA0417164300, 06-12345678, a@b.nl, order 123456789")
    assert text == "bsn [BSN], [IBAN], [PHONE], [EMAIL], order 123456789"


def test_an_agent_seen_only_in_the_joined_notice_is_masked() -> None:
    catalogue = Catalogue.from_config(None, "texts", "nl")
    joined = catalogue.render("agent_joined", "nl", agent="Piet Hein")
    mask = PersonalData.of(conv(), [said(joined, Party.SYSTEM)], catalogue)
    assert mask.mask(joined) == catalogue.render("agent_joined", "nl", agent="[NAME]")
    assert mask.mask("Dank je Piet") == "Dank je [NAME]"


def test_erased_or_purged_keys_are_not_identities() -> None:
    mask = PersonalData.of(conv().evolve(channel_key="purged:c1"), [])
    assert mask.mask("purged:c1 c1") == "purged:c1 c1"


async def test_nps_csv_keeps_formulas_as_text(tmp_path: Path) -> None:
    store = create_store("sqlite", path=str(tmp_path / "h.db"))
    await store.open()
    try:
        tenant = tenant_config("t")
        rows = [
            SurveyAnswer("c", "t", "web", 1, 2, "=HYPERLINK(\"http://x\")", "resolved", AT),
            SurveyAnswer("c", "t", "web", 1, 10, "-- prima", "resolved", AT),
            SurveyAnswer("c", "t", "web", 1, None, None, None, AT),
        ]
        out = io.StringIO()
        assert await export(store, tenant, rows, out, "csv") == 3
        read = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert [r["comment"] for r in read] == ["'=HYPERLINK(\"http://x\")", "'-- prima", ""]
        assert [(r["score"], r["category"]) for r in read][2] == ("", "unanswered")
        # The closing outcome is free text typed at the desk: neutralised as well.
        desk = [SurveyAnswer("c", "t", "web", 1, 7, None, '=cmd|"/c calc"!A1', AT),
                SurveyAnswer("c", "t", "web", 1, 7, None, "@SUM(1+1)", AT)]
        out = io.StringIO()
        await export(store, tenant, desk, out, "csv")
        read = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert [r["outcome"] for r in read] == ['\'=cmd|"/c calc"!A1', "'@SUM(1+1)"]
        out = io.StringIO()
        await export(store, tenant, rows, out, "jsonl")
        assert json.loads(out.getvalue().splitlines()[0])["comment"] == rows[0].comment
    finally:
        await store.close()
