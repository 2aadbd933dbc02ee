"""Evaluation queries, retention purges and erasure, run against every engine."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from handover.clock import FakeClock
from handover.config.model import RetentionPolicy
from handover.evaluation import retention
from handover.evaluation.nps import export
from handover.evaluation.period import parse_period
from handover.evaluation.report import build_report
from handover.evaluation.sample import SampleSize, sample
from handover.model import Conversation, HandoverEvent, State, Target, Timer
from handover.store import CommitResult, Step, Store, VersionConflict
from tests.evaluation_support import tenant_config

from .test_store import OWNER, answer, conversation, entry, item

DAY = 86400.0


def event(conv: Conversation, name: str, clock: FakeClock, **extra: object) -> HandoverEvent:
    return HandoverEvent(
        conv.id, conv.tenant, conv.channel, 1, name, clock.now(), **extra  # type: ignore[arg-type]
    )


async def full(store: Store, clock: FakeClock, cid: str, tenant: str = "tenant-a") -> None:
    """A conversation with everything a handover leaves: bodies and metadata."""
    c = await store.resolve_conversation(
        conversation(cid, context={"name": "Jan de Vries", "url": "https://x.nl/afval"})
        .evolve(tenant=tenant)
    )
    step = Step(
        c.evolve(state=State.CLOSED, seq=2, handover_no=1, agent_name="Sanne"),
        transcript=[entry(cid, 1, "mijn bsn is 111222333"), entry(cid, 2), entry(cid, 0, "n")],
        outbox=[item(cid, 1, Target.DESK)],
        survey=answer(cid, tenant, clock.now(), comment="Jan was blij"),
        handover_events=[
            event(c, "queued", clock, reason="citizen_request"),
            event(c, "answered", clock, wait_seconds=42.5),
            event(c, "ended", clock, outcome="resolved"),
        ],
    )
    assert await store.commit(step) is CommitResult.APPLIED
    [row] = [r for r in await store.claim(OWNER, clock.now(), 30, 50) if r.conversation_id == cid]
    assert await store.dead_letter(row.id, OWNER, "gone", clock.now()) is not None


async def assert_bodies_gone_metadata_kept(store: Store, cid: str) -> None:
    conv = await store.get_conversation(cid)
    assert conv is not None
    assert conv.context == {} and conv.agent_name is None
    assert conv.channel_key == f"purged:{cid}"
    assert (conv.state, conv.seq, conv.handover_no, conv.channel) == (State.CLOSED, 2, 1, "web")
    assert await store.transcript(cid) == [] and await store.desk_notes(cid) == []
    assert [d for d in await store.dead_letters() if d.conversation_id == cid] == []
    [survey] = await store.survey_answers(conversation_id=cid)
    assert (survey.score, survey.outcome, survey.comment) == (4, "resolved", None)
    events = await store.handover_events(conversation_id=cid)
    assert [(e.event, e.reason, e.outcome, e.wait_seconds) for e in events] == [
        ("queued", "citizen_request", None, None),
        ("answered", None, None, 42.5),
        ("ended", None, "resolved", None),
    ]


async def assert_untouched(store: Store, cid: str) -> None:
    conv = await store.get_conversation(cid)
    assert conv is not None and conv.context["name"] == "Jan de Vries"
    assert conv.agent_name == "Sanne" and conv.channel_key == f"key-{cid}"
    assert len(await store.transcript(cid)) == 2 and len(await store.desk_notes(cid)) == 1
    [survey] = await store.survey_answers(conversation_id=cid)
    assert survey.comment == "Jan was blij"


# --- evaluation queries -----------------------------------------------------------------


async def test_handover_events_and_filters(store: Store, clock: FakeClock) -> None:
    await full(store, clock, "a")
    clock.advance(DAY)
    await full(store, clock, "b", tenant="tenant-b")
    everything = await store.handover_events()
    assert [(e.conversation_id, e.event) for e in everything][:3] == [
        ("a", "queued"), ("a", "answered"), ("a", "ended"),
    ]  # fmt: skip
    assert len(everything) == 6
    assert {e.tenant for e in await store.handover_events("tenant-b")} == {"tenant-b"}
    since = clock.now() - timedelta(hours=1)
    assert {e.conversation_id for e in await store.handover_events(since=since)} == {"b"}
    assert {e.conversation_id for e in await store.handover_events(until=since)} == {"a"}
    assert await store.handover_events("tenant-a", since=since) == []
    answered = next(e for e in everything if e.event == "answered")
    assert answered.at == clock.now() - timedelta(days=1) and answered.wait_seconds == 42.5
    assert [a.conversation_id for a in await store.survey_answers(since=since)] == ["b"]
    assert [a.conversation_id for a in await store.survey_answers(until=since)] == ["a"]


async def test_conversation_counts_and_ids_by_start(store: Store, clock: FakeClock) -> None:
    start = clock.now()
    await store.resolve_conversation(conversation("w1"))
    await store.resolve_conversation(conversation("w2"))
    await store.resolve_conversation(conversation("p1").evolve(channel="phone"))
    await store.resolve_conversation(conversation("x1").evolve(tenant="tenant-b"))
    clock.advance(DAY)
    await store.resolve_conversation(conversation("later"))
    end = start + timedelta(hours=1)
    assert await store.conversation_counts("tenant-a", start, end) == {"web": 2, "phone": 1}
    assert await store.conversation_ids("tenant-a", start, end) == ["p1", "w1", "w2"]
    assert await store.conversation_ids("tenant-a", end, clock.now() + timedelta(1)) == ["later"]
    assert await store.conversation_counts("nobody", start, end) == {}


# --- purges -------------------------------------------------------------------------------


async def test_purge_bodies_keeps_metadata_and_is_idempotent(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "old")
    await full(store, clock, "other-tenant", tenant="tenant-b")
    clock.advance(10 * DAY)
    await full(store, clock, "recent")
    cutoff = clock.now() - timedelta(days=5)

    assert await store.purge_bodies("tenant-a", cutoff, clock.now(), 100) == 1
    await assert_bodies_gone_metadata_kept(store, "old")
    await assert_untouched(store, "recent")
    await assert_untouched(store, "other-tenant")
    assert await store.purge_bodies("tenant-a", cutoff, clock.now(), 100) == 0

    # A returning citizen starts afresh; the purged conversation keeps its metadata.
    fresh = await store.resolve_conversation(conversation("old-new", key="key-old"))
    assert fresh.id == "old-new"


async def test_purge_bodies_conflicts_with_a_step_computed_before(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "c1")
    before = await store.get_conversation("c1")
    assert before is not None
    clock.advance(10 * DAY)
    assert await store.purge_bodies("tenant-a", clock.now(), clock.now(), 10) == 1
    with pytest.raises(VersionConflict):
        await store.commit(Step(before.evolve(state=State.BOT)))


async def test_a_conversation_active_after_its_purge_is_purged_again(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "c1")
    clock.advance(10 * DAY)
    assert await store.purge_bodies("tenant-a", clock.now(), clock.now(), 10) == 1
    # A late event for the conversation (a desk webhook by id) writes a new body.
    purged = await store.get_conversation("c1")
    assert purged is not None
    await store.commit(Step(purged.evolve(seq=3), transcript=[entry("c1", 3, "laat")]))
    clock.advance(DAY)
    assert await store.purge_bodies("tenant-a", clock.now() - timedelta(hours=1), clock.now(), 10) == 1
    assert await store.transcript("c1") == []
    assert await store.purge_bodies("tenant-a", clock.now(), clock.now(), 10) == 0


async def test_purges_work_in_batches(store: Store, clock: FakeClock) -> None:
    for n in range(5):
        c = await store.resolve_conversation(conversation(f"c{n}", context={"name": "X"}))
        await store.commit(Step(c.evolve(seq=1), transcript=[entry(f"c{n}", 1)]))
    clock.advance(DAY)
    batches = [await store.purge_bodies("tenant-a", clock.now(), clock.now(), 2) for _ in range(4)]
    assert batches == [2, 2, 1, 0]
    batches = [await store.purge_metadata("tenant-a", clock.now(), 2) for _ in range(4)]
    assert batches == [2, 2, 1, 0]
    assert all([await store.get_conversation(f"c{n}") is None for n in range(5)])


async def test_purge_metadata_deletes_everything_of_the_conversation(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "old")
    old = await store.get_conversation("old")
    assert old is not None
    await store.commit(Step(old, timers_set=[Timer("old", "idle", clock.now(), 1)]))
    await store.commit(Step((await store.get_conversation("old")), outbox=[item("old", 9)]))  # type: ignore[arg-type]
    clock.advance(400 * DAY)
    await full(store, clock, "recent")
    assert await store.purge_metadata("tenant-a", clock.now() - timedelta(days=1), 100) == 1
    assert await store.get_conversation("old") is None
    assert await store.handover_events(conversation_id="old") == []
    assert await store.survey_answers(conversation_id="old") == []
    assert await store.outbox_for("old") == [] and await store.timer("old", "idle") is None
    assert await store.transcript("old") == []
    await assert_untouched(store, "recent")
    assert await store.purge_metadata("tenant-a", clock.now() - timedelta(days=1), 100) == 0


async def test_retention_per_tenant_settings(store: Store, clock: FakeClock) -> None:
    await full(store, clock, "a-old")
    await full(store, clock, "b-old", tenant="tenant-b")
    clock.advance(3 * DAY)
    await full(store, clock, "a-mid")
    await full(store, clock, "b-mid", tenant="tenant-b")
    clock.advance(2 * DAY)
    tenants = {
        "tenant-a": tenant_config("tenant-a", RetentionPolicy(bodies_days=1, metadata_days=4)),
        "tenant-b": tenant_config("tenant-b", RetentionPolicy(bodies_days=4, metadata_days=30)),
    }
    result = await retention.purge(store, tenants, clock.now(), batch=1)
    # tenant-a: a-old (5 days) is past metadata, a-mid (2 days) past bodies only.
    assert await store.get_conversation("a-old") is None
    await assert_bodies_gone_metadata_kept(store, "a-mid")
    # tenant-b: b-old (5 days) past bodies only, b-mid (2 days) untouched.
    await assert_bodies_gone_metadata_kept(store, "b-old")
    await assert_untouched(store, "b-mid")
    assert (result.deleted, result.bodies) == (
        {"tenant-a": 1, "tenant-b": 0}, {"tenant-a": 1, "tenant-b": 1}
    )
    again = await retention.purge(store, tenants, clock.now())
    assert again.total == 0


# --- erasure ------------------------------------------------------------------------------


async def test_erasure_removes_bodies_and_personal_metadata(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "c1")
    await full(store, clock, "keep")
    assert await store.erase_conversation("c1")
    conv = await store.get_conversation("c1")
    assert conv is not None
    assert (conv.channel_key, conv.context, conv.agent_name) == ("erased:c1", {}, None)
    assert await store.transcript("c1") == [] and await store.desk_notes("c1") == []
    assert [d.conversation_id for d in await store.dead_letters()] == ["keep"]
    [survey] = await store.survey_answers(conversation_id="c1")
    assert (survey.score, survey.comment) == (4, None)
    # Handover events hold no personal data; the report still counts the handover.
    assert [e.event for e in await store.handover_events(conversation_id="c1")] == [
        "queued", "answered", "ended",
    ]  # fmt: skip
    await assert_untouched(store, "keep")


# --- the exports on every engine ----------------------------------------------------------


async def test_report_sample_and_nps_export_on_every_engine(
    store: Store, clock: FakeClock
) -> None:
    await full(store, clock, "c1")
    await full(store, clock, "c2")
    await store.resolve_conversation(conversation("bot-only").evolve(channel="app"))
    tenant = tenant_config("tenant-a")
    period = parse_period(clock.now().date().isoformat())

    report = await build_report(store, "tenant-a", period)
    every = report.channels["all"]
    assert (every.conversations, every.handed_over, every.answered) == (3, 2, 2)
    assert every.wait_percentiles()["p50"] == 42.5
    assert (every.nps.answered, every.nps.score) == (2, -100.0)  # two 4s
    assert report.channels["app"].handed_over == 0

    out = io.StringIO()
    assert await sample(store, tenant, period, SampleSize(rate=1.0), out, seed=1) == 3
    text = out.getvalue()
    for planted in ("Jan", "Vries", "111222333", "Sanne", "key-c1", "key-c2"):
        assert planted not in text, planted
    records = {r["conversation_id"]: r for r in map(json.loads, text.splitlines())}
    assert records["bot-only"]["handovers"] == [] and records["bot-only"]["channel"] == "app"
    first = records["c1"]
    assert first["transcript"][0]["text"] == "mijn bsn is [BSN]"
    assert first["context"] == {"url": "https://x.nl/afval"}
    assert first["handovers"][0]["wait_seconds"] == 42.5
    assert first["survey"] == [{
        "handover_no": 1, "score": 4, "comment": "[NAME] was blij", "outcome": "resolved",
        "answered_at": clock.now().isoformat(),
    }]  # fmt: skip

    out = io.StringIO()
    answers = await store.survey_answers("tenant-a", since=period.since, until=period.until)
    assert await export(store, tenant, answers, out, "jsonl") == 2
    assert [json.loads(line)["comment"] for line in out.getvalue().splitlines()] == [
        "[NAME] was blij", "[NAME] was blij",
    ]  # fmt: skip
