"""Leasing at creation and batched completions, the same on every engine.

A step may lease the outbox items it makes to the instance that will deliver them
(`Step.lease_owner`, `lease_until`), remove items that instance delivered
(`Step.completed`), and `finish_leased` writes completions, marks and releases in one
transaction. The order per (conversation, target) queue must hold throughout: a new
item is leased only when nothing earlier waits in its queue.
"""

from __future__ import annotations

from datetime import timedelta

from handover.clock import FakeClock
from handover.model import OutboxItem, Target
from handover.store import CommitResult, Step, Store
from tests.store.test_store import OTHER, OWNER, item, stored


async def lease_step(
    store: Store, clock: FakeClock, cid: str, *items: OutboxItem,
    completed: list[int] | None = None, inbox: str | None = None,
) -> Step:
    conv = await store.get_conversation(cid)
    assert conv is not None
    step = Step(
        conv, inbox_key=("test", inbox) if inbox else None, outbox=list(items),
        completed=completed or [], lease_owner=OWNER,
        lease_until=clock.now() + timedelta(seconds=30),
    )  # fmt: skip
    await store.commit(step)
    return step


async def test_new_items_of_an_empty_queue_are_leased_to_the_owner_in_order(
    store: Store, clock: FakeClock
) -> None:
    await stored(store, "c1")
    step = await lease_step(store, clock, "c1", item("c1", 1), item("c1", 2),
                            item("c1", 3, Target.BOT))
    assert [(r.kind, r.payload, r.target) for r in step.leased] == [
        ("message", {"n": 1}, Target.CITIZEN), ("message", {"n": 2}, Target.CITIZEN),
        ("message", {"n": 3}, Target.BOT),
    ]
    assert [r.tenant for r in step.leased] == ["tenant-a"] * 3
    assert [r.id for r in step.leased] == sorted(r.id for r in step.leased)
    # Leased: no claim hands them out again, not even the queue heads.
    assert await store.claim(OTHER, clock.now(), 30, 10) == []
    pending = await store.outbox_for("c1")
    assert [r.id for r in pending] == [r.id for r in step.leased]


async def test_an_item_behind_an_earlier_one_is_left_for_the_claim(
    store: Store, clock: FakeClock
) -> None:
    await stored(store, "c1")
    first = await lease_step(store, clock, "c1", item("c1", 1))
    second = await lease_step(store, clock, "c1", item("c1", 2), item("c1", 3, Target.BOT))
    # The citizen queue still holds item 1: item 2 waits behind it, unleased. The bot
    # queue was empty.
    assert [r.payload for r in second.leased] == [{"n": 3}]
    # Once item 1 is completed by a step, its queue's next new item is leased again.
    third = await lease_step(store, clock, "c1", item("c1", 4),
                             completed=[first.leased[0].id])
    assert third.leased == []  # item 2 is now the head, and not ours
    claimed = await store.claim(OTHER, clock.now(), 30, 10)
    assert [r.payload for r in claimed] == [{"n": 2}]


async def test_a_step_removes_what_the_owner_delivered_before_it_leases(
    store: Store, clock: FakeClock
) -> None:
    await stored(store, "c1")
    first = await lease_step(store, clock, "c1", item("c1", 1))
    second = await lease_step(store, clock, "c1", item("c1", 2),
                              completed=[first.leased[0].id])
    assert [r.payload for r in second.leased] == [{"n": 2}]
    assert [r.payload for r in await store.outbox_for("c1")] == [{"n": 2}]


async def test_only_the_owners_items_are_completed(store: Store, clock: FakeClock) -> None:
    await stored(store, "c1")
    await stored(store, "c2")
    conv = await store.get_conversation("c2")
    assert conv is not None
    assert await store.commit(Step(conv, outbox=[item("c2", 9)])) is CommitResult.APPLIED
    [theirs] = await store.claim(OTHER, clock.now(), 30, 10)
    await lease_step(store, clock, "c1", item("c1", 1), completed=[theirs.id])
    assert [r.id for r in await store.outbox_for("c2")] == [theirs.id]
    await store.finish_leased(OWNER, completed=[theirs.id])
    assert [r.id for r in await store.outbox_for("c2")] == [theirs.id]


async def test_a_duplicate_step_leases_and_removes_nothing(
    store: Store, clock: FakeClock
) -> None:
    await stored(store, "c1")
    first = await lease_step(store, clock, "c1", item("c1", 1), inbox="m1")
    again = await lease_step(store, clock, "c1", item("c1", 2), inbox="m1",
                             completed=[first.leased[0].id])
    assert again.leased == []
    assert [r.payload for r in await store.outbox_for("c1")] == [{"n": 1}]


async def test_finish_leased_completes_marks_and_releases_in_one_call(
    store: Store, clock: FakeClock
) -> None:
    for cid in ("c1", "c2", "c3"):
        await stored(store, cid)
    done = (await lease_step(store, clock, "c1", item("c1", 1))).leased[0]
    sending = (await lease_step(store, clock, "c2", item("c2", 1))).leased[0]
    back = (await lease_step(store, clock, "c3", item("c3", 1), item("c3", 2))).leased
    await store.finish_leased(
        OWNER, completed=[done.id], in_flight=[sending.id], released=[r.id for r in back]
    )
    assert await store.outbox_for("c1") == []
    [marked] = await store.outbox_for("c2")
    assert marked.in_flight
    # Released: the queue head is claimable at once, in order.
    claimed = await store.claim(OTHER, clock.now(), 30, 10)
    assert [(r.conversation_id, r.payload) for r in claimed] == [("c3", {"n": 1})]


async def test_a_citizen_item_is_not_leased_while_another_instance_holds_the_socket(
    store: Store, clock: FakeClock
) -> None:
    await stored(store, "c1")
    await store.hold_connections(OTHER, ["c1"], clock.now() + timedelta(seconds=30))
    step = await lease_step(store, clock, "c1", item("c1", 1), item("c1", 2, Target.DESK))
    if store.shared:
        assert [r.target for r in step.leased] == [Target.DESK]
    else:  # one instance: every connection is this one's
        assert len(step.leased) == 2
