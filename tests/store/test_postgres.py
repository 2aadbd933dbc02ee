"""Behaviour of the PostgreSQL engine beyond the shared contract: migrations run by
several instances at once, connection settings, and claiming and wake-ups shared by
several instances on one database."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from handover.clock import FakeClock
from handover.model import Content, Conversation, OutboxItem, Party, Target, Timer, TranscriptEntry
from handover.store import CommitResult, SchemaTooNew, Step, StoreError, create_store
from handover.store.migrate import Migration, load_migrations
from handover.store.postgres.migrate import (
    MIGRATION_LOCK,
    MIGRATIONS_PACKAGE,
    apply_migrations,
    recorded_version,
)
from handover.store.postgres.store import PostgresStore


def _conversation(cid: str) -> Conversation:
    return Conversation(id=cid, tenant="t", channel="web", channel_key=f"k-{cid}", language="nl")


@pytest.fixture
async def pg_store(pg_dsn: str, clock: FakeClock) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_dsn, clock=clock)
    await store.open()
    yield store
    await store.close()


async def test_manual_mode_refuses_pending_migrations_until_they_are_applied(
    pg_dsn: str, clock: FakeClock
) -> None:
    manual = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=False)
    with pytest.raises(StoreError, match="handover migrate"):
        await manual.open()

    # What `handover migrate` does: open with migrations applied.
    migrating = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=True)
    await migrating.open()
    version = await migrating.schema_version()
    await migrating.close()
    assert version >= 1

    manual = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=False)
    await manual.open()
    try:
        assert await manual.schema_version() == version
    finally:
        await manual.close()


# --- migrations ------------------------------------------------------------------------


async def _tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        )
    finally:
        await conn.close()
    return {r["table_name"] for r in rows}


async def test_instances_starting_together_migrate_the_database_once(
    pg_dsn: str, clock: FakeClock
) -> None:
    stores = [create_store("postgres", dsn=pg_dsn, clock=clock) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        versions = {await s.schema_version() for s in stores}
    finally:
        for s in stores:
            await s.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        recorded = await conn.fetch("SELECT version FROM schema_migrations")
    finally:
        await conn.close()
    shipped = load_migrations(MIGRATIONS_PACKAGE)
    assert sorted(r["version"] for r in recorded) == [m.version for m in shipped]
    assert versions == {shipped[-1].version}


async def test_a_newer_schema_is_refused_and_left_untouched(
    pg_dsn: str, clock: FakeClock
) -> None:
    store = create_store("postgres", dsn=pg_dsn, clock=clock)
    await store.open()
    await store.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("INSERT INTO schema_migrations VALUES (999, now())")
    finally:
        await conn.close()
    before = await _tables(pg_dsn)

    newer = create_store("postgres", dsn=pg_dsn, clock=clock)
    with pytest.raises(SchemaTooNew):
        await newer.open()
    assert await _tables(pg_dsn) == before


async def test_a_failing_migration_leaves_no_trace(pg_dsn: str, clock: FakeClock) -> None:
    good = Migration(1, "0001_good.sql", "CREATE TABLE first_table (id integer);")
    bad = Migration(
        2, "0002_bad.sql", "CREATE TABLE second_table (id integer); SELECT * FROM no_such;"
    )
    conn = await asyncpg.connect(pg_dsn)
    try:
        with pytest.raises(StoreError, match=r"0002_bad\.sql"):
            await apply_migrations(conn, [good, bad], datetime.now(UTC))
        assert await recorded_version(conn) == 1
        # The lock was given back: a later run can take it at once.
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK)
    finally:
        await conn.close()
    tables = await _tables(pg_dsn)
    assert "first_table" in tables
    assert "second_table" not in tables


async def test_manual_mode_writes_nothing_to_a_fresh_database(
    pg_dsn: str, clock: FakeClock
) -> None:
    manual = create_store("postgres", dsn=pg_dsn, clock=clock, migrate=False)
    with pytest.raises(StoreError):
        await manual.open()
    assert await _tables(pg_dsn) == set()


# --- connections -----------------------------------------------------------------------


async def test_an_unreachable_server_is_a_store_error_without_the_password(
    clock: FakeClock,
) -> None:
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"postgresql://handover:s3cret-pass@127.0.0.1:{port}/handover"
    store = create_store("postgres", dsn=dsn, clock=clock)
    with pytest.raises(StoreError) as raised:
        await store.open()
    assert "s3cret-pass" not in str(raised.value)


async def test_sessions_carry_a_statement_timeout(pg_dsn: str, clock: FakeClock) -> None:
    store = PostgresStore(pg_dsn, clock=clock, statement_timeout=30)
    await store.open()
    try:
        async with store._db.connection() as conn:
            assert await conn.fetchval("SHOW statement_timeout") == "30s"
    finally:
        await store.close()


async def test_text_with_a_nul_character_round_trips(pg_store: PostgresStore) -> None:
    # PostgreSQL's text and jsonb refuse U+0000, which a citizen can still type.
    store = pg_store
    c = await store.resolve_conversation(_conversation("c1"))
    text = "before\x00after \u2603"
    entry = TranscriptEntry("c1", 1, Party.CITIZEN, Content(text=text), message_id="m1")
    step = Step(c.evolve(seq=1, context={"page": text}), transcript=[entry])
    assert await store.commit(step) is CommitResult.APPLIED
    [back] = await store.transcript("c1")
    assert back.content.text == text
    read = await store.get_conversation("c1")
    assert read is not None and read.context["page"] == text


# --- several instances on one database -------------------------------------------------


async def _enqueue(store: PostgresStore, cid: str, target: Target, n: int) -> None:
    c = await store.get_conversation(cid) or await store.resolve_conversation(_conversation(cid))
    item = OutboxItem(cid, target, "message", {"n": n}, epoch=1, correlation_id=f"{cid}-{n}")
    assert await store.commit(Step(c, outbox=[item])) is CommitResult.APPLIED


async def test_instances_claiming_together_never_share_a_queue_and_keep_its_order(
    pg_dsn: str, clock: FakeClock
) -> None:
    a, b = PostgresStore(pg_dsn, clock=clock), PostgresStore(pg_dsn, clock=clock)
    await a.open()
    await b.open()
    try:
        targets = (Target.CITIZEN, Target.DESK)
        for n in range(3):
            for i in range(20):
                for target in targets:
                    await _enqueue(a, f"c{i}", target, n)
        delivered: dict[tuple[str, str], list[int]] = {}
        in_flight: set[tuple[str, str]] = set()
        owners = [(store, f"worker-{k}") for k in range(8) for store in (a, b)][:8]

        async def worker(store: PostgresStore, owner: str) -> None:
            idle = 0
            while idle < 3:
                rows = await store.claim(owner, clock.now(), lease_seconds=60, limit=5)
                if not rows:
                    idle += 1
                    await asyncio.sleep(0.02)
                    continue
                idle = 0
                for row in rows:
                    queue = (row.conversation_id, str(row.target))
                    assert queue not in in_flight, f"{queue} handed out twice at once"
                    in_flight.add(queue)
                    await asyncio.sleep(0)  # let the other workers claim meanwhile
                    delivered.setdefault(queue, []).append(row.payload["n"])
                    in_flight.discard(queue)
                    await store.complete(row.id, owner)

        await asyncio.gather(*(worker(store, owner) for store, owner in owners))
    finally:
        await a.close()
        await b.close()
    assert len(delivered) == 40
    assert all(ns == [0, 1, 2] for ns in delivered.values()), delivered


async def test_a_claim_skips_a_head_locked_by_another_instance_without_waiting(
    pg_dsn: str, clock: FakeClock
) -> None:
    store = PostgresStore(pg_dsn, clock=clock)
    await store.open()
    try:
        await _enqueue(store, "busy", Target.CITIZEN, 0)
        await _enqueue(store, "free", Target.CITIZEN, 0)
        # Another instance is in the middle of claiming "busy": its row lock is held.
        other = await asyncpg.connect(pg_dsn)
        try:
            tx = other.transaction()
            await tx.start()
            await other.execute("SELECT id FROM outbox WHERE conversation_id = 'busy' FOR UPDATE")
            rows = await asyncio.wait_for(
                store.claim("me", clock.now(), lease_seconds=60, limit=10), timeout=5
            )
            await tx.rollback()
        finally:
            await other.close()
        assert [r.conversation_id for r in rows] == ["free"]
    finally:
        await store.close()


async def test_commits_wake_listening_instances(pg_dsn: str, clock: FakeClock) -> None:
    writer, listener = PostgresStore(pg_dsn, clock=clock), PostgresStore(pg_dsn, clock=clock)
    await writer.open()
    await listener.open()
    hints: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.listen(hints.put_nowait)
        c = await writer.resolve_conversation(_conversation("c1"))
        item = OutboxItem("c1", Target.CITIZEN, "message", {}, epoch=1, correlation_id="x")
        step = Step(c, inbox_key=("web", "m1"), outbox=[item])
        assert await writer.commit(step) is CommitResult.APPLIED
        assert await asyncio.wait_for(hints.get(), timeout=5) == "outbox"

        # A duplicate is rolled back whole: no hint.
        again = await writer.get_conversation("c1")
        assert again is not None
        step = Step(again, inbox_key=("web", "m1"), outbox=[item])
        assert await writer.commit(step) is CommitResult.DUPLICATE
        timer = Timer("c1", "queue_timeout", clock.now() + timedelta(minutes=5), epoch=1)
        current = await writer.get_conversation("c1")
        assert current is not None
        assert await writer.commit(Step(current, timers_set=[timer])) is CommitResult.APPLIED
        # The next hint is the timer's: nothing was sent for the duplicate.
        assert await asyncio.wait_for(hints.get(), timeout=5) == "timers"
        assert hints.empty()
    finally:
        await listener.close()
        await writer.close()


async def test_a_live_socket_elsewhere_reserves_citizen_items_for_its_instance(
    pg_dsn: str, clock: FakeClock
) -> None:
    a, b = PostgresStore(pg_dsn, clock=clock), PostgresStore(pg_dsn, clock=clock)
    await a.open()
    await b.open()
    try:
        await _enqueue(a, "c1", Target.CITIZEN, 0)
        await _enqueue(a, "c1", Target.DESK, 0)
        await b.hold_connections("instance-b", ["c1"], clock.now() + timedelta(seconds=30))

        # Instance A may deliver to the desk, not to the socket B holds.
        rows = await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10)
        assert [(r.conversation_id, r.target) for r in rows] == [("c1", Target.DESK)]
        rows = await b.claim("instance-b", clock.now(), lease_seconds=60, limit=10)
        assert [(r.conversation_id, r.target) for r in rows] == [("c1", Target.CITIZEN)]
        await b.complete(rows[0].id, "instance-b")

        # B dies: its lease runs out, and A delivers.
        await _enqueue(a, "c1", Target.CITIZEN, 1)
        clock.advance(31)
        rows = await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10)
        assert [r.payload["n"] for r in rows if r.target is Target.CITIZEN] == [1]
        await a.complete(rows[0].id, "instance-a")

        # The citizen reconnects to A, then to B again: the newest holder wins, and
        # renewing or dropping touches only one's own leases.
        await _enqueue(a, "c1", Target.CITIZEN, 2)
        await a.hold_connections("instance-a", ["c1"], clock.now() + timedelta(seconds=30))
        await b.hold_connections("instance-b", ["c1"], clock.now() + timedelta(seconds=30))
        assert await a.renew_connections("instance-a", clock.now() + timedelta(hours=1)) == 0
        await a.drop_connections("instance-a")
        assert await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10) == []
        await b.drop_connections("instance-b", ["c1"])
        rows = await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10)
        assert [r.payload["n"] for r in rows] == [2]

        # A claimed it and died before sending; the citizen reconnects to B, which
        # need not wait a minute for A's outbox lease to run out.
        await b.hold_connections("instance-b", ["c1"], clock.now() + timedelta(seconds=30))
        rows = await b.claim("instance-b", clock.now(), lease_seconds=60, limit=10)
        assert [r.payload["n"] for r in rows] == [2]
        # Unless its send may have started on a target that is not resend-safe.
        await b.mark_in_flight(rows[0].id, "instance-b")
        await a.hold_connections("instance-a", ["c1"], clock.now() + timedelta(seconds=30))
        assert await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10) == []
    finally:
        await a.close()
        await b.close()


async def test_a_returning_connection_makes_the_citizen_items_in_backoff_due_now(
    pg_dsn: str, clock: FakeClock
) -> None:
    """A channel with no live connection for an item raises TransientError, and the item
    waits in backoff (up to minutes). When the citizen's connection comes back on any
    instance, the item is due at once: the citizen does not wait out the backoff."""
    a, b = PostgresStore(pg_dsn, clock=clock), PostgresStore(pg_dsn, clock=clock)
    await a.open()
    await b.open()
    try:
        await _enqueue(a, "c1", Target.CITIZEN, 0)
        await _enqueue(a, "c1", Target.DESK, 0)
        rows = await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10)
        for row in rows:
            await a.reschedule(row.id, "instance-a", clock.now() + timedelta(minutes=5),
                               "no live connection")
        assert await b.claim("instance-b", clock.now(), lease_seconds=60, limit=10) == []

        await b.hold_connections("instance-b", ["c1"], clock.now() + timedelta(seconds=30))
        rows = await b.claim("instance-b", clock.now(), lease_seconds=60, limit=10)
        # The citizen's item is due now; the desk's keeps its backoff.
        assert [(r.target, r.payload["n"]) for r in rows] == [(Target.CITIZEN, 0)]
    finally:
        await a.close()
        await b.close()


async def test_wake_hints_come_back_after_the_listening_connection_is_lost(
    pg_dsn: str, clock: FakeClock
) -> None:
    writer, listener = PostgresStore(pg_dsn, clock=clock), PostgresStore(pg_dsn, clock=clock)
    await writer.open()
    await listener.open()
    hints: asyncio.Queue[str] = asyncio.Queue()
    try:
        assert await listener.wake_hints(hints.put_nowait)
        [conn] = listener._db._listeners
        # A database restart or fail-over, as far as this connection is concerned.
        killer = await asyncpg.connect(pg_dsn)
        try:
            await killer.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
        finally:
            await killer.close()
        # Once it listens again it says that hints may have been missed...
        missed = {await asyncio.wait_for(hints.get(), timeout=10) for _ in range(2)}
        assert missed == {"outbox", "timers"}
        # ...and hints flow again.
        await _enqueue(writer, "c1", Target.CITIZEN, 0)
        assert await asyncio.wait_for(hints.get(), timeout=5) == "outbox"
    finally:
        await listener.close()
        await writer.close()


async def test_leases_taken_from_another_instance_are_counted(
    pg_dsn: str, clock: FakeClock
) -> None:
    from handover import metrics

    def steals(lease: str) -> float:
        return metrics.REGISTRY.get_sample_value(
            "handover_lease_steals_total", {"lease": lease}) or 0.0

    a, b = PostgresStore(pg_dsn, clock=clock), PostgresStore(pg_dsn, clock=clock)
    await a.open()
    await b.open()
    try:
        expired, takeover = steals("expired"), steals("citizen_takeover")
        await _enqueue(a, "s1", Target.DESK, 0)
        assert len(await a.claim("instance-a", clock.now(), lease_seconds=10, limit=10)) == 1
        # Its own items and fresh ones are no steal.
        assert steals("expired") == expired
        clock.advance(11)  # A stalled: its lease ran out, B takes the item
        assert len(await b.claim("instance-b", clock.now(), lease_seconds=10, limit=10)) == 1
        assert steals("expired") == expired + 1

        await _enqueue(a, "s2", Target.CITIZEN, 0)
        assert len(await a.claim("instance-a", clock.now(), lease_seconds=60, limit=10)) == 1
        await b.hold_connections("instance-b", ["s2"], clock.now() + timedelta(seconds=30))
        assert steals("citizen_takeover") == takeover + 1
        assert len(await b.claim("instance-b", clock.now(), lease_seconds=60, limit=10)) == 1
        assert steals("expired") == expired + 1  # released by the takeover, not expired
    finally:
        await a.close()
        await b.close()
