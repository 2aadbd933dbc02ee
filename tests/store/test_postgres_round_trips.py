"""Network round trips per store operation on PostgreSQL, counted (never timed).

Each round trip to the server is a wait on the network, which on a real network
dominates a step. handover_store_round_trips_total counts the statements the store
sends (a transaction's BEGIN and COMMIT included); these tests pin the count of the
hot path: one step of a relayed message, and the batched completion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from handover import metrics
from handover.clock import FakeClock
from handover.model import (
    Content,
    Conversation,
    OutboxItem,
    Party,
    Target,
    Timer,
    TranscriptEntry,
)
from handover.store import CommitResult, Step
from handover.store.postgres.store import PostgresStore

OWNER = "worker-1"


def round_trips(kind: str) -> int:
    for family in metrics.STORE_ROUND_TRIPS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels["kind"] == kind:
                return int(sample.value)
    return 0


@pytest.fixture
async def pg_store(pg_dsn: str, clock: FakeClock) -> AsyncIterator[PostgresStore]:
    # One connection, so statements prepared by the warm-up are prepared for the
    # measured step as they are on a pooled connection in a running daemon.
    store = PostgresStore(pg_dsn, clock=clock, pool_min=1, pool_max=1)
    await store.open()
    yield store
    await store.close()


async def commit_relay_step(store: PostgresStore, clock: FakeClock, n: int,
                            completed: list[int]) -> Step:
    conv = await store.get_conversation("c1")
    assert conv is not None
    seq = conv.seq + 1
    step = Step(
        conv.evolve(seq=seq),
        inbox_key=("web", f"m{n}"),
        transcript=[TranscriptEntry("c1", seq, Party.CITIZEN, Content(text=f"hallo {n}"),
                                    message_id=f"m{n}")],
        outbox=[OutboxItem("c1", Target.BOT, "bot.turn", {"text": f"hallo {n}"}, epoch=0)],
        timers_set=[Timer("c1", "citizen_inactive", clock.now() + timedelta(minutes=5), 0)],
        timers_cancelled=["citizen_inactive"],
        completed=completed,
        lease_owner=OWNER,
        lease_until=clock.now() + timedelta(seconds=30),
    )
    assert await store.commit(step) is CommitResult.APPLIED
    return step


async def test_a_relay_step_is_one_round_trip(pg_store: PostgresStore, clock: FakeClock) -> None:
    await pg_store.resolve_conversation(
        Conversation(id="c1", tenant="t", channel="web", channel_key="k", language="nl"))
    warm = await commit_relay_step(pg_store, clock, 1, [])  # prepares the statements
    before = round_trips("step")
    step = await commit_relay_step(pg_store, clock, 2, [warm.leased[0].id])
    spent = round_trips("step") - before
    print(f"round trips per relay step: {spent}")
    assert [r.kind for r in step.leased] == ["bot.turn"]
    assert spent == 1


async def test_batched_completions_are_one_round_trip(
    pg_store: PostgresStore, clock: FakeClock
) -> None:
    await pg_store.resolve_conversation(
        Conversation(id="c1", tenant="t", channel="web", channel_key="k", language="nl"))
    first = await commit_relay_step(pg_store, clock, 1, [])
    await pg_store.finish_leased(OWNER, in_flight=[first.leased[0].id])  # prepares it
    before = round_trips("outbox")
    await pg_store.finish_leased(OWNER, completed=[first.leased[0].id])
    assert round_trips("outbox") - before == 1
    assert await pg_store.outbox_for("c1") == []
