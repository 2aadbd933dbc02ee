"""The Store contract, run against every engine (see conftest.ENGINES)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from handover.clock import FakeClock
from handover.model import (
    Attachment,
    Button,
    Content,
    Conversation,
    OutboxItem,
    Party,
    State,
    SurveyAnswer,
    Target,
    Timer,
    TranscriptEntry,
)
from handover.store import (
    CommitResult,
    Step,
    Store,
    StoreError,
    VersionConflict,
    create_store,
)
from handover.store.migrate import load_migrations

from .conftest import StoreFactory

OWNER = "worker-1"
OTHER = "worker-2"


def conversation(cid: str = "c1", key: str | None = None, **changes: object) -> Conversation:
    base = Conversation(
        id=cid, tenant="tenant-a", channel="web", channel_key=key or f"key-{cid}", language="nl"
    )
    return base.evolve(**changes)


def entry(cid: str, seq: int, text: str = "hello", party: Party = Party.CITIZEN) -> TranscriptEntry:
    return TranscriptEntry(cid, seq, party, Content(text=text), message_id=f"{cid}-m{seq}-{text}")


def item(cid: str, n: int = 0, target: Target = Target.CITIZEN) -> OutboxItem:
    return OutboxItem(cid, target, "message", {"n": n}, epoch=1, correlation_id=f"corr-{n}")


async def stored(store: Store, cid: str = "c1") -> Conversation:
    """A conversation that exists in the store, as read back."""
    return await store.resolve_conversation(conversation(cid))


async def enqueue(store: Store, cid: str, *items: OutboxItem) -> Conversation:
    current = await store.get_conversation(cid) or await stored(store, cid)
    assert await store.commit(Step(current, outbox=list(items))) is CommitResult.APPLIED
    result = await store.get_conversation(cid)
    assert result is not None
    return result


# --- lifecycle -----------------------------------------------------------------------


async def test_open_migrates_and_pings(store: Store, store_factory: StoreFactory) -> None:
    package = f"handover.store.migrations.{store_factory.engine}"
    assert await store.schema_version() == len(load_migrations(package))
    await store.ping()


async def test_closed_store_refuses_work(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreError):
        await store.ping()
    with pytest.raises(StoreError):
        await store.commit(Step(conversation()))
    with pytest.raises(StoreError):
        await store.get_conversation("c1")
    await store.close()  # closing twice is harmless


async def test_data_survives_close_and_reopen(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    c = await stored(store)
    step = Step(
        c.evolve(state=State.AGENT, seq=1),
        inbox_key=("web", "m1"),
        transcript=[entry("c1", 1)],
        outbox=[item("c1")],
        timers_set=[Timer("c1", "idle", store_factory.clock.now(), 1)],
    )
    assert await store.commit(step) is CommitResult.APPLIED
    await store.close()

    reopened = await store_factory.open()
    again = await reopened.get_conversation("c1")
    assert again is not None and again.state is State.AGENT and again.version == 2
    assert [e.seq for e in await reopened.transcript("c1")] == [1]
    assert len(await reopened.outbox_for("c1")) == 1
    assert await reopened.timer("c1", "idle") is not None
    assert await reopened.seen("web", "m1")


async def test_pending_commits_finish_before_close(store: Store) -> None:
    await stored(store)
    tasks = [
        asyncio.create_task(store.commit(Step(conversation(f"x{i}"), inbox_key=("s", str(i)))))
        for i in range(20)
    ]
    await asyncio.sleep(0)  # let every task enqueue its step
    await store.close()
    assert [t.result() for t in tasks] == [CommitResult.APPLIED] * 20


async def test_create_store_engines() -> None:
    unopened = create_store("postgres", dsn="postgresql://localhost/x")
    with pytest.raises(StoreError, match="not open"):
        await unopened.ping()  # built, not connected: open() connects
    with pytest.raises(StoreError, match="dsn"):
        create_store("postgres")
    with pytest.raises(StoreError, match="path"):
        create_store("sqlite")
    with pytest.raises(StoreError, match="unknown"):
        create_store("mysql")


# --- conversations -------------------------------------------------------------------


async def test_resolve_creates_once_then_returns_stored(store: Store, clock: FakeClock) -> None:
    created = await store.resolve_conversation(conversation("c1", context={"a": 1}))
    assert created.version == 1
    assert created.context == {"a": 1}
    assert created.created_at == clock.now() and created.created_at.tzinfo is not None
    # Another candidate id for the same identity gets the stored conversation.
    again = await store.resolve_conversation(conversation("other-id", key="key-c1"))
    assert again == created
    assert await store.get_conversation("c1") == created
    assert await store.get_conversation("nope") is None


async def test_resolve_is_safe_against_concurrent_callers(store: Store) -> None:
    results = await asyncio.gather(
        *(store.resolve_conversation(conversation(f"cand-{i}", key="same")) for i in range(20))
    )
    assert len({c.id for c in results}) == 1
    assert all(c.version == 1 for c in results)


async def test_commit_inserts_new_conversation_and_bumps_version(store: Store) -> None:
    new = conversation("c1", state=State.BOT, context={"topic": "afval"})
    assert await store.commit(Step(new)) is CommitResult.APPLIED
    first = await store.get_conversation("c1")
    assert first is not None and first.version == 1

    changed = first.evolve(
        state=State.QUEUED, epoch=3, handover_no=1, seq=7, agent_name="Anna",
        bot_escalations=2, context={"topic": "parkeren", "nested": [1, "ü"]}, language="en",
    )  # fmt: skip
    assert await store.commit(Step(changed)) is CommitResult.APPLIED
    second = await store.get_conversation("c1")
    assert second is not None
    assert second.version == 2
    assert (second.state, second.epoch, second.handover_no, second.seq) == (State.QUEUED, 3, 1, 7)
    assert (second.agent_name, second.bot_escalations, second.language) == ("Anna", 2, "en")
    assert second.context == {"topic": "parkeren", "nested": [1, "ü"]}
    assert second.created_at == first.created_at


async def test_version_conflict_writes_nothing(store: Store, clock: FakeClock) -> None:
    c = await stored(store)
    assert await store.commit(Step(c.evolve(seq=1), transcript=[entry("c1", 1)]))
    stale = Step(
        c.evolve(state=State.CLOSED, seq=2),  # still version 1; the store has 2
        inbox_key=("web", "late"),
        transcript=[entry("c1", 2)],
        outbox=[item("c1")],
        timers_set=[Timer("c1", "idle", clock.now(), 1)],
        echo_keys=[("desk", "echo-1")],
    )
    with pytest.raises(VersionConflict):
        await store.commit(stale)
    current = await store.get_conversation("c1")
    assert current is not None and current.version == 2 and current.state is State.BOT
    assert [e.seq for e in await store.transcript("c1")] == [1]
    assert await store.outbox_for("c1") == []
    assert await store.timer("c1", "idle") is None
    assert not await store.seen("web", "late")
    assert not await store.seen("desk", "echo-1")


async def test_inserting_an_existing_conversation_is_a_conflict(store: Store) -> None:
    await stored(store)
    with pytest.raises(VersionConflict):
        await store.commit(Step(conversation("c1"), transcript=[entry("c1", 1)]))
    assert await store.transcript("c1") == []


async def test_duplicate_inbox_key_writes_nothing(store: Store) -> None:
    c = await stored(store)
    first = Step(
        c.evolve(seq=1), inbox_key=("web", "m1"), transcript=[entry("c1", 1)], outbox=[item("c1")]
    )
    assert await store.commit(first) is CommitResult.APPLIED
    after_first = await store.get_conversation("c1")
    assert after_first is not None
    redelivered = Step(
        after_first.evolve(seq=2),
        inbox_key=("web", "m1"),
        transcript=[entry("c1", 2)],
        outbox=[item("c1", 2)],
    )
    assert await store.commit(redelivered) is CommitResult.DUPLICATE
    assert await store.get_conversation("c1") == after_first
    assert [e.seq for e in await store.transcript("c1")] == [1]
    assert [r.payload for r in await store.outbox_for("c1")] == [{"n": 0}]


async def test_seen_and_echo_keys(store: Store) -> None:
    c = await stored(store)
    assert not await store.seen("web", "m1")
    await store.commit(Step(c, inbox_key=("web", "m1"), echo_keys=[("desk", "d1"), ("desk", "d2")]))
    assert await store.seen("web", "m1")
    assert await store.seen("desk", "d1") and await store.seen("desk", "d2")
    assert not await store.seen("desk", "m1")  # the source is part of the key
    await store.record_echo("desk", "d3")
    await store.record_echo("desk", "d3")  # recording twice is fine
    assert await store.seen("desk", "d3")


async def test_transcript_after_seq_and_desk_notes(store: Store) -> None:
    c = await stored(store)
    rich = Content(
        text="kies",
        buttons=(Button("Ja", "/yes"),),
        attachments=(Attachment("https://x/a.pdf", "a.pdf", "application/pdf"),),
        custom={"k": "v"},
    )
    entries = [
        entry("c1", 1),
        TranscriptEntry("c1", 2, Party.BOT, rich, "m2", sender_name="Gem", handover_no=0),
        entry("c1", 0, "note one", Party.SYSTEM),
        entry("c1", 3, "agent says", Party.AGENT),
        entry("c1", 0, "note two", Party.SYSTEM),
    ]
    await store.commit(Step(c.evolve(seq=3), transcript=entries))
    await store.commit(Step(c.evolve(version=2, seq=3), transcript=[entry("c1", 0, "note 3")]))

    visible = await store.transcript("c1")
    assert [e.seq for e in visible] == [1, 2, 3]
    assert visible[1].content == rich and visible[1].sender_name == "Gem"
    assert visible[1].party is Party.BOT and visible[1].created_at is not None
    assert [e.seq for e in await store.transcript("c1", after_seq=1)] == [2, 3]
    assert [e.seq for e in await store.transcript("c1", after_seq=0, limit=2)] == [1, 2]
    assert await store.transcript("c1", after_seq=3) == []
    notes = await store.desk_notes("c1")
    assert [n.content.text for n in notes] == ["note one", "note two", "note 3"]
    assert await store.transcript("other") == []


async def test_a_long_transcript_reads_its_tail_and_all_of_it(store: Store) -> None:
    # A conversation of a few thousand entries: more than one page of `transcript`.
    c = await stored(store)
    total = 2500
    entries = [entry("c1", n, f"m{n}", Party.CITIZEN if n % 2 else Party.AGENT)
               for n in range(1, total + 1)]
    await store.commit(Step(c.evolve(seq=total), transcript=[
        *entries, entry("c1", 0, "a note", Party.SYSTEM)]))

    tail = await store.transcript_tail("c1", 5)
    assert [e.seq for e in tail] == [2496, 2497, 2498, 2499, 2500]
    assert tail[-1].content.text == "m2500"
    assert [e.seq for e in await store.transcript_tail("c1", 10_000)] == list(range(1, total + 1))
    everything = [e.seq async for e in store.transcript_all("c1", page=700)]
    assert everything == list(range(1, total + 1))
    assert [e.seq async for e in store.transcript_all("c1")] == everything
    assert await store.transcript_tail("other", 5) == []
    assert [e async for e in store.transcript_all("other")] == []


async def test_find_and_count_conversations_never_create(store: Store) -> None:
    assert await store.count_conversations() == 0
    assert await store.find_conversation("tenant-a", "web", "key-c1") is None
    await stored(store)
    found = await store.find_conversation("tenant-a", "web", "key-c1")
    assert found is not None and found.id == "c1"
    assert await store.find_conversation("tenant-a", "sms", "key-c1") is None
    assert await store.count_conversations() == 1


async def test_duplicate_visible_seq_is_refused(store: Store) -> None:
    c = await stored(store)
    await store.commit(Step(c.evolve(seq=1), transcript=[entry("c1", 1)]))
    with pytest.raises(StoreError):
        await store.commit(Step(c.evolve(version=2), transcript=[entry("c1", 1, "again")]))
    current = await store.get_conversation("c1")
    assert current is not None and current.version == 2  # the failed step left no trace


# --- outbox ----------------------------------------------------------------------------


async def test_claim_hands_out_only_queue_heads_in_order(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1), item("c1", 2), item("c1", 3, Target.DESK))
    await enqueue(store, "c1", item("c1", 4))
    now = clock.now()

    first = await store.claim(OWNER, now, 30, limit=10)
    assert sorted((r.target, r.payload["n"]) for r in first) == [
        (Target.CITIZEN, 1),
        (Target.DESK, 3),
    ]
    row = next(r for r in first if r.target is Target.CITIZEN)
    assert (row.tenant, row.kind, row.epoch, row.correlation_id) == (
        "tenant-a",
        "message",
        1,
        "corr-1",
    )
    assert (row.attempts, row.in_flight, row.last_error) == (0, False, None)
    assert row.created_at == now

    # The head is leased and the rest waits behind it.
    assert await store.claim(OTHER, now, 30, limit=10) == []
    seen = [row.payload["n"]]
    for _ in range(2):
        await store.complete(row.id, OWNER)
        claimed = await store.claim(OWNER, now, 30, limit=10)
        assert len(claimed) == 1
        row = claimed[0]
        seen.append(row.payload["n"])
    assert seen == [1, 2, 4]
    ids = [r.id for r in await store.outbox_for("c1")]
    assert ids == sorted(ids)


async def test_claim_limit_and_exclude(store: Store, clock: FakeClock) -> None:
    for cid in ("a", "b", "c"):
        await enqueue(store, cid, item(cid, 1))
    now = clock.now()
    excluded = await store.claim(OWNER, now, 30, limit=10, exclude={("a", Target.CITIZEN)})
    assert sorted(r.conversation_id for r in excluded) == ["b", "c"]
    assert [r.conversation_id for r in await store.claim(OWNER, now, 30, limit=1)] == ["a"]

    await store.release_leases()
    assert len(await store.claim(OWNER, now, 30, limit=2)) == 2
    assert len(await store.claim(OWNER, now, 30, limit=0)) == 0


async def test_exclude_does_not_starve_the_limit(store: Store, clock: FakeClock) -> None:
    for cid in ("a", "b", "c", "d"):
        await enqueue(store, cid, item(cid, 1))
    exclude = {("a", Target.CITIZEN), ("b", Target.CITIZEN)}
    claimed = await store.claim(OWNER, clock.now(), 30, limit=2, exclude=exclude)
    assert sorted(r.conversation_id for r in claimed) == ["c", "d"]


async def test_lease_blocks_until_it_expires(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1))
    now = clock.now()
    [row] = await store.claim(OWNER, now, 30, limit=5)
    assert await store.claim(OTHER, now + timedelta(seconds=29), 30, limit=5) == []
    [again] = await store.claim(OTHER, now + timedelta(seconds=31), 30, limit=5)
    assert again.id == row.id
    # The first owner lost the lease: its late completion must not remove the item.
    await store.complete(row.id, OWNER)
    assert [r.id for r in await store.outbox_for("c1")] == [row.id]
    await store.complete(row.id, OTHER)
    assert await store.outbox_for("c1") == []


async def test_reschedule_respects_next_attempt_at(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1), item("c1", 2))
    now = clock.now()
    [row] = await store.claim(OWNER, now, 30, limit=5)
    await store.mark_in_flight(row.id, OWNER)
    await store.reschedule(row.id, OWNER, now + timedelta(seconds=60), "503 from desk")
    assert await store.claim(OWNER, now + timedelta(seconds=59), 30, limit=5) == []
    [retry] = await store.claim(OWNER, now + timedelta(seconds=60), 30, limit=5)
    assert retry.id == row.id
    assert (retry.attempts, retry.in_flight, retry.last_error) == (1, False, "503 from desk")


async def test_future_item_is_not_claimed_early(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1))
    assert await store.claim(OWNER, clock.now() - timedelta(seconds=1), 30, limit=5) == []


async def test_in_flight_is_reported_after_a_crash(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1))
    now = clock.now()
    [row] = await store.claim(OWNER, now, 30, limit=5)
    await store.mark_in_flight(row.id, OWNER)
    await store.mark_in_flight(row.id, OTHER)  # not the owner: ignored
    # The worker dies mid-send; a new one finds the row after the lease ran out.
    [again] = await store.claim(OTHER, now + timedelta(seconds=31), 30, limit=5)
    assert again.id == row.id and again.in_flight and again.attempts == 0


async def test_release_leases(store: Store, clock: FakeClock) -> None:
    for cid in ("a", "b", "c"):
        await enqueue(store, cid, item(cid, 1))
    now = clock.now()
    await store.claim(OWNER, now, 30, limit=2)
    await store.claim(OTHER, now, 30, limit=2)
    assert await store.release_leases(OTHER) == 1
    assert [r.conversation_id for r in await store.claim("w3", now, 30, limit=5)] != []
    assert await store.release_leases() == 3
    assert await store.release_leases() == 0
    assert len(await store.claim(OWNER, now, 30, limit=5)) == 3


async def test_dead_letter_and_replay(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1), item("c1", 2))
    now = clock.now()
    [row] = await store.claim(OWNER, now, 30, limit=5)
    await store.mark_in_flight(row.id, OWNER)
    assert await store.dead_letter(row.id, OTHER, "not mine", now) is None

    later = now + timedelta(seconds=5)
    dead = await store.dead_letter(row.id, OWNER, "400 bad request", later)
    assert dead is not None
    assert (dead.conversation_id, dead.target, dead.kind) == ("c1", Target.CITIZEN, "message")
    assert (dead.payload, dead.reason, dead.attempts) == ({"n": 1}, "400 bad request", 0)
    assert (dead.created_at, dead.failed_at) == (now, later)
    assert await store.dead_letters() == [dead]
    assert await store.dead_letter(row.id, OWNER, "again", later) is None

    # The next item of the queue moves up.
    [nxt] = await store.claim(OWNER, later, 30, limit=5)
    assert nxt.payload == {"n": 2}
    await store.complete(nxt.id, OWNER)

    replay_at = now + timedelta(minutes=10)
    assert await store.replay_dead_letter(dead.id, replay_at)
    assert await store.dead_letters() == []
    assert not await store.replay_dead_letter(dead.id, replay_at)
    [replayed] = await store.outbox_for("c1")
    assert replayed.id > nxt.id and replayed.payload == {"n": 1}
    assert (replayed.attempts, replayed.in_flight, replayed.created_at) == (0, False, replay_at)
    assert await store.claim(OWNER, replay_at - timedelta(seconds=1), 30, limit=5) == []
    assert [r.id for r in await store.claim(OWNER, replay_at, 30, limit=5)] == [replayed.id]


async def test_dead_letters_limit(store: Store, clock: FakeClock) -> None:
    for cid in ("a", "b", "c"):
        await enqueue(store, cid, item(cid, 1))
    for row in await store.claim(OWNER, clock.now(), 30, limit=5):
        await store.dead_letter(row.id, OWNER, "gone", clock.now())
    assert len(await store.dead_letters()) == 3
    assert len(await store.dead_letters(limit=2)) == 2


async def test_outbox_stats_next_due_and_outbox_for(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    assert await store.outbox_stats(now) == (0, 0.0)
    assert await store.next_due() is None
    await enqueue(store, "c1", item("c1", 1), item("c1", 2, Target.DESK))
    clock.advance(10)
    await enqueue(store, "c2", item("c2", 3))

    assert await store.outbox_stats(now + timedelta(seconds=25)) == (3, 25.0)
    assert await store.next_due() == now
    rows = await store.outbox_for("c1")
    assert [(r.target, r.payload["n"]) for r in rows] == [(Target.CITIZEN, 1), (Target.DESK, 2)]
    assert await store.outbox_for("c3") == []

    # Once the older heads are out of the way, the next due item is the newer one.
    for row in await store.claim(OWNER, now, 30, limit=5):
        await store.reschedule(row.id, OWNER, now + timedelta(seconds=100), "later")
    assert await store.next_due() == now + timedelta(seconds=10)


async def test_next_due_waits_for_a_leased_head(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "c1", item("c1", 1), item("c1", 2))
    now = clock.now()
    await store.claim(OWNER, now, 30, limit=5)
    # The item behind the leased head cannot be claimed; the head frees up at expiry.
    assert await store.next_due() == now + timedelta(seconds=30)


# --- timers ----------------------------------------------------------------------------


async def test_timers_set_overwrite_cancel_and_due_order(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    a = await stored(store, "a")
    b = await stored(store, "b")
    assert await store.next_timer() is None
    await store.commit(
        Step(
            a,
            timers_set=[
                Timer("a", "idle", now + timedelta(seconds=30), 1),
                Timer("a", "queue", now + timedelta(seconds=10), 1),
            ],
        )
    )
    await store.commit(Step(b, timers_set=[Timer("b", "idle", now + timedelta(seconds=20), 4)]))
    assert await store.timer("b", "idle") == Timer("b", "idle", now + timedelta(seconds=20), 4)
    assert await store.next_timer() == now + timedelta(seconds=10)

    due = await store.due_timers(now + timedelta(seconds=30))
    assert [(t.conversation_id, t.name) for t in due] == [
        ("a", "queue"),
        ("b", "idle"),
        ("a", "idle"),
    ]
    assert len(await store.due_timers(now + timedelta(seconds=30), limit=2)) == 2
    assert await store.due_timers(now + timedelta(seconds=9)) == []
    # Due timers stay until a step cancels them.
    assert len(await store.due_timers(now + timedelta(seconds=30))) == 3

    # Overwrite one, cancel another (cancel applies to the step's conversation only).
    a2 = a.evolve(version=2)
    await store.commit(
        Step(
            a2,
            timers_set=[Timer("a", "idle", now + timedelta(seconds=5), 2)],
            timers_cancelled=["queue", "no-such-timer"],
        )
    )
    assert await store.timer("a", "queue") is None
    assert await store.timer("a", "idle") == Timer("a", "idle", now + timedelta(seconds=5), 2)
    assert await store.timer("b", "idle") is not None
    assert await store.next_timer() == now + timedelta(seconds=5)


async def test_timer_both_cancelled_and_set_in_one_step_is_set(
    store: Store, clock: FakeClock
) -> None:
    a = await stored(store, "a")
    due = clock.now() + timedelta(seconds=60)
    await store.commit(Step(a, timers_set=[Timer("a", "idle", due, 2)], timers_cancelled=["idle"]))
    assert await store.timer("a", "idle") == Timer("a", "idle", due, 2)


# --- surveys and privacy ----------------------------------------------------------------


def answer(cid: str, tenant: str, at: datetime, comment: str | None = "fijn") -> SurveyAnswer:
    return SurveyAnswer(cid, tenant, "web", 1, 4, comment, "resolved", at)


async def test_survey_answers(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    a = await stored(store, "a")
    b = await store.resolve_conversation(conversation("b").evolve(tenant="tenant-b"))
    await store.commit(Step(b, survey=answer("b", "tenant-b", now + timedelta(seconds=1))))
    await store.commit(Step(a, survey=answer("a", "tenant-a", now)))
    everything = await store.survey_answers()
    assert [s.conversation_id for s in everything] == ["a", "b"]
    assert everything[0] == answer("a", "tenant-a", now)
    assert [s.conversation_id for s in await store.survey_answers("tenant-b")] == ["b"]
    assert await store.survey_answers("tenant-z") == []


async def test_erase_keeps_metadata_and_removes_bodies(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    c = await store.resolve_conversation(conversation("c1", context={"name": "Jan"}))
    keep = await stored(store, "keep")
    await store.commit(
        Step(
            c.evolve(state=State.CLOSED, seq=2, handover_no=1),
            transcript=[entry("c1", 1), entry("c1", 2), entry("c1", 0, "note")],
            outbox=[item("c1", 1), item("c1", 2, Target.DESK)],
            timers_set=[Timer("c1", "idle", now, 1)],
            survey=answer("c1", "tenant-a", now, comment="my name is Jan"),
        )
    )
    await store.commit(Step(keep, transcript=[entry("keep", 1)], outbox=[item("keep")]))
    [desk] = [r for r in await store.claim(OWNER, now, 30, 5) if r.target is Target.DESK]
    await store.dead_letter(desk.id, OWNER, "gone", now)

    assert await store.erase_conversation("c1")
    erased = await store.get_conversation("c1")
    assert erased is not None
    assert erased.channel_key == "erased:c1" and erased.context == {}
    assert (erased.state, erased.seq, erased.handover_no) == (State.CLOSED, 2, 1)
    assert erased.version == 3  # a step computed before the erasure now conflicts
    assert await store.transcript("c1") == [] and await store.desk_notes("c1") == []
    assert await store.outbox_for("c1") == []
    assert await store.timer("c1", "idle") is None
    assert await store.dead_letters() == []
    [survey] = await store.survey_answers()
    assert (survey.score, survey.outcome, survey.comment) == (4, "resolved", None)
    # Other conversations are untouched, and the citizen starts afresh next time.
    assert len(await store.transcript("keep")) == 1 and len(await store.outbox_for("keep")) == 1
    fresh = await store.resolve_conversation(conversation("c1-new", key="key-c1"))
    assert fresh.id == "c1-new"
    with pytest.raises(VersionConflict):
        await store.commit(Step(c.evolve(version=2, context={"name": "Jan"})))

    assert not await store.erase_conversation("unknown")


async def test_purge_inbox(store: Store, clock: FakeClock) -> None:
    await store.record_echo("desk", "old")
    clock.advance(3600)
    await store.record_echo("desk", "new")
    assert await store.purge_inbox(clock.now() - timedelta(seconds=60)) == 1
    assert not await store.seen("desk", "old")
    assert await store.seen("desk", "new")
    assert await store.purge_inbox(clock.now() - timedelta(seconds=60)) == 0


# --- concurrency (exercises group commit) ---------------------------------------------


async def test_many_concurrent_commits_all_land(store: Store) -> None:
    steps = [
        Step(
            conversation(f"c{i}", seq=1),
            inbox_key=("web", f"m{i}"),
            transcript=[entry(f"c{i}", 1)],
            outbox=[item(f"c{i}", i)],
        )
        for i in range(200)
    ]
    results = await asyncio.gather(*(store.commit(s) for s in steps))
    assert results == [CommitResult.APPLIED] * 200
    for i in (0, 99, 199):
        assert [e.seq for e in await store.transcript(f"c{i}")] == [1]
    assert (await store.outbox_stats(datetime.now(UTC)))[0] == 200


async def test_concurrent_mix_with_duplicates(store: Store) -> None:
    originals = [
        Step(conversation(f"c{i}"), inbox_key=("web", f"m{i}"), outbox=[item(f"c{i}", i)])
        for i in range(100)
    ]
    assert set(await asyncio.gather(*(store.commit(s) for s in originals[:50]))) == {
        CommitResult.APPLIED
    }
    # Redeliveries of the first 50 keys (on other conversations) race with new steps,
    # and a key delivered twice within the same burst counts once.
    redelivered = [
        Step(conversation(f"dup{i}"), inbox_key=("web", f"m{i}"), outbox=[item(f"dup{i}")])
        for i in range(50)
    ]
    twice = [
        Step(conversation("twin-1"), inbox_key=("web", "twin")),
        Step(conversation("twin-2"), inbox_key=("web", "twin")),
    ]
    batch = [*redelivered, *originals[50:], *twice]
    results = await asyncio.gather(*(store.commit(s) for s in batch))
    assert results[:50] == [CommitResult.DUPLICATE] * 50
    assert results[50:100] == [CommitResult.APPLIED] * 50
    assert sorted(r.value for r in results[100:]) == ["applied", "duplicate"]
    for i in range(50):
        assert await store.get_conversation(f"dup{i}") is None
    assert (await store.outbox_stats(datetime.now(UTC)))[0] == 100


async def test_concurrent_conflicts_fail_alone(store: Store) -> None:
    c = await stored(store)
    others = [Step(conversation(f"o{i}"), outbox=[item(f"o{i}")]) for i in range(10)]
    racing = [Step(c.evolve(seq=n), transcript=[entry("c1", n)]) for n in (1, 2, 3)]
    results = await asyncio.gather(
        *(store.commit(s) for s in [*racing, *others]), return_exceptions=True
    )
    # Exactly one of the racing steps wins; which one is up to the engine (with a
    # connection pool the first submitted need not be the first to reach the row).
    racing_results = results[:3]
    winners = [n for n, r in zip((1, 2, 3), racing_results, strict=True) if r is CommitResult.APPLIED]
    assert len(winners) == 1
    assert sum(isinstance(r, VersionConflict) for r in racing_results) == 2
    assert results[3:] == [CommitResult.APPLIED] * 10
    assert [e.seq for e in await store.transcript("c1")] == winners
