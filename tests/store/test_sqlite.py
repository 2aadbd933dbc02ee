"""Behaviour specific to the SQLite engine: file format, migrations, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from handover.clock import FakeClock
from handover.model import Conversation, OutboxItem, Target
from handover.store import CommitResult, SchemaTooNew, Step, StoreError
from handover.store.migrate import (
    Migration,
    apply_migrations,
    load_migrations,
    recorded_version,
    split_statements,
)
from handover.store.sqlite.outbox import CLAIM
from handover.store.sqlite.store import MIGRATIONS_PACKAGE, SQLiteStore
from handover.store.sqlite.writer import GroupCommitWriter


def conversation(cid: str) -> Conversation:
    return Conversation(id=cid, tenant="t", channel="web", channel_key=cid, language="nl")


def new_step(cid: str, key: str | None = None) -> Step:
    item = OutboxItem(cid, Target.CITIZEN, "message", {}, epoch=1)
    return Step(conversation(cid), inbox_key=("web", key or cid), outbox=[item])


@pytest.fixture
async def sqlite_store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "h.db", clock=clock)
    await store.open()
    yield store
    await store.close()


async def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
    db.close()
    before = path.read_bytes()

    with pytest.raises(SchemaTooNew, match="99"):
        await SQLiteStore(path).open()
    assert path.read_bytes() == before


async def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    for _ in range(2):
        store = SQLiteStore(path)
        await store.open()
        await store.close()
    db = sqlite3.connect(path)
    rows = db.execute("SELECT version FROM schema_migrations").fetchall()
    mode = db.execute("PRAGMA journal_mode").fetchone()
    db.close()
    shipped = load_migrations(MIGRATIONS_PACKAGE)
    assert [r[0] for r in rows] == [m.version for m in shipped] == [1, 2, 3]
    assert mode == ("wal",)


async def test_connection_settings(sqlite_store: SQLiteStore) -> None:
    jobs = sqlite_store._jobs
    assert jobs is not None

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

    pragmas = await jobs.run_now(read)
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == 2  # FULL
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] > 0


async def test_memory_database_is_refused() -> None:
    with pytest.raises(StoreError, match="file path"):
        await SQLiteStore(":memory:").open()


async def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        await SQLiteStore(path).open()


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE a (x INTEGER);
    CREATE TRIGGER t AFTER INSERT ON a
    BEGIN
        UPDATE a SET x = 1;
        UPDATE a SET x = 2;
    END;
    -- trailing comment
    """
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(StoreError):
        split_statements("CREATE TABLE b (x INTEGER)")


async def test_concurrent_commits_are_grouped(
    sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    original = GroupCommitWriter._run_batch

    async def spy(self: GroupCommitWriter, batch: list[Any]) -> None:
        sizes.append(len(batch))
        await original(self, batch)

    monkeypatch.setattr(GroupCommitWriter, "_run_batch", spy)
    results = await asyncio.gather(*(sqlite_store.commit(new_step(f"c{i}")) for i in range(600)))
    assert results == [CommitResult.APPLIED] * 600
    assert sum(sizes) == 600
    assert len(sizes) < 600 and max(sizes) <= 256

    sizes.clear()
    assert await sqlite_store.commit(new_step("alone")) is CommitResult.APPLIED
    assert sizes == [1]


async def test_a_failing_step_does_not_sink_its_batch(sqlite_store: SQLiteStore) -> None:
    orphan = Step(
        conversation("x"),
        outbox=[OutboxItem("no-such-conversation", Target.DESK, "message", {}, epoch=1)],
    )
    steps = [new_step("a"), orphan, new_step("b")]
    results = await asyncio.gather(*(sqlite_store.commit(s) for s in steps), return_exceptions=True)
    assert results[0] is CommitResult.APPLIED and results[2] is CommitResult.APPLIED
    assert isinstance(results[1], StoreError)
    assert await sqlite_store.get_conversation("x") is None
    assert await sqlite_store.get_conversation("b") is not None


async def test_an_operational_error_fails_only_its_job(sqlite_store: SQLiteStore) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("SELECT * FROM no_such_table")

    jobs = sqlite_store._jobs
    assert jobs is not None
    results = await asyncio.gather(
        sqlite_store.commit(new_step("a")),
        jobs.submit(broken),
        sqlite_store.commit(new_step("b")),
        return_exceptions=True,
    )
    assert results[0] is CommitResult.APPLIED and results[2] is CommitResult.APPLIED
    assert isinstance(results[1], StoreError)
    await sqlite_store.ping()


async def test_reads_do_not_see_an_open_batch(sqlite_store: SQLiteStore) -> None:
    gate = asyncio.Event()
    seen_inside: list[bool] = []
    loop = asyncio.get_running_loop()

    def slow(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO inbox (source, source_id, received_at) VALUES ('s', 'uncommitted', 0)"
        )
        # The job runs on the writer thread; ask the store's reader from the loop.
        probe = asyncio.run_coroutine_threadsafe(sqlite_store.seen("s", "uncommitted"), loop)
        seen_inside.append(probe.result(timeout=10))
        loop.call_soon_threadsafe(gate.set)

    jobs = sqlite_store._jobs
    assert jobs is not None
    await jobs.submit(slow)
    assert gate.is_set() and seen_inside == [False]
    assert await sqlite_store.seen("s", "uncommitted")


async def test_claim_reads_only_queue_heads(sqlite_store: SQLiteStore, clock: FakeClock) -> None:
    # A long queue behind one head must not make claim scan it.
    long_queue = Step(
        conversation("busy"),
        outbox=[OutboxItem("busy", Target.DESK, "m", {"n": n}, epoch=1) for n in range(2000)],
    )
    await sqlite_store.commit(long_queue)
    await sqlite_store.commit(new_step("quiet"))
    reader = sqlite_store._reader
    assert reader is not None
    heads = await reader.execute_fetchall("SELECT COUNT(*) FROM outbox WHERE is_head = 1")
    assert [tuple(r) for r in heads] == [(2,)]
    plan = await reader.execute_fetchall(f"EXPLAIN QUERY PLAN {CLAIM}", (0.0, 10))
    assert any("outbox_ready_heads" in str(tuple(row)) for row in plan), list(map(tuple, plan))

    now = clock.now()
    claimed = await sqlite_store.claim("w", now, 30, 10)
    assert sorted(r.conversation_id for r in claimed) == ["busy", "quiet"]
    busy = next(r for r in claimed if r.conversation_id == "busy")
    await sqlite_store.complete(busy.id, "w")
    [nxt] = await sqlite_store.claim("w", now + timedelta(seconds=1), 30, 10)
    assert nxt.payload == {"n": 1}


async def test_a_failing_migration_leaves_no_trace(tmp_path: Path) -> None:
    good = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER);\nCREATE TABLE a (x INTEGER);")
    conn = await aiosqlite.connect(tmp_path / "m.db", isolation_level=None)
    try:
        with pytest.raises(StoreError, match=r"0002_b\.sql"):
            await apply_migrations(conn, [good, bad], now=0.0)
        assert await recorded_version(conn) == 1
        tables = await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert sorted(r[0] for r in tables) == ["a", "schema_migrations"]
        assert await apply_migrations(conn, [good], now=0.0) == 1
    finally:
        await conn.close()


async def test_a_lookup_that_finds_the_database_locked_is_retried_off_the_event_loop(
    sqlite_store: SQLiteStore,
) -> None:
    await sqlite_store.resolve_conversation(conversation("c1"))
    inline = sqlite_store._inline

    class Locked:
        """The event-loop reader as it answers while another process holds a lock
        (it does not wait: busy_timeout 0)."""

        def execute(self, *_args: Any) -> Any:
            raise sqlite3.OperationalError("database is locked")

    sqlite_store._inline = Locked()  # type: ignore[assignment]
    try:
        found = await sqlite_store.get_conversation("c1")
    finally:
        sqlite_store._inline = inline
    assert found is not None and found.id == "c1"
    assert inline is not None
    assert inline.execute("PRAGMA busy_timeout").fetchone()[0] == 0


async def test_a_missing_data_directory_is_created_and_the_files_are_private(tmp_path: Path) -> None:
    """`handover run` with the example's `data/handover.db` and no `data/` yet: the store
    creates the directory (0700) and the database, WAL and SHM files readable by their
    owner only, since they hold citizens' messages."""
    import stat

    path = tmp_path / "data" / "sub" / "handover.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for name in ("handover.db", "handover.db-wal", "handover.db-shm"):
            file = path.parent / name
            assert file.exists(), name
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, name
    finally:
        await store.close()
