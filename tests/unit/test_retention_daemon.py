"""The daemon applies each tenant's retention on its own, at start and every hour."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from handover.clock import FakeClock
from handover.evaluation.retention import PURGE_INTERVAL
from handover.model import thread_id
from tests.harness import TENANT, Running, running

HOUR = 3600.0
RETENTION = {"tenants": {TENANT: {"retention": {"bodies_days": 1, "metadata_days": 2}}}}


async def until(check: Callable[[], Awaitable[bool]], clock: FakeClock) -> None:
    """Wait for `check`, moving the clock an hour every quarter second: the purge loop
    may have been busy (not yet asleep) when the test advanced the clock before."""

    async def poll() -> None:
        n = 0
        while not await check():
            await asyncio.sleep(0.02)
            n += 1
            if n % 12 == 0:
                clock.advance(HOUR)

    await asyncio.wait_for(poll(), 10)


async def handed_over(r: Running) -> str:
    conv = await r.chat.ctx.resolve_conversation(TENANT, "citizen-1", "nl", {"name": "Jan"})
    await r.chat.say(conv.id, "Hallo, ik ben Jan")
    await r.chat.request_agent(conv.id)
    thread = thread_id(conv.id, 1)
    await r.desk.wait_for(lambda: thread in r.desk.threads)
    await r.desk.join(thread, "Sanne")
    await r.desk.close(thread, "resolved")
    await r.settle()
    return conv.id


async def test_purge_runs_on_schedule_with_the_tenants_settings(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(tmp_path, RETENTION, clock) as r:
        store = r.daemon.store
        cid = await handed_over(r)
        assert len(await store.transcript(cid)) > 3
        assert PURGE_INTERVAL.total_seconds() == HOUR

        # Within the day (the survey timing out after 5 minutes was the last activity),
        # hourly runs leave the bodies alone.
        for _ in range(20):
            clock.advance(HOUR)
            await asyncio.sleep(0.01)
        await r.settle()
        assert len(await store.transcript(cid)) > 3

        # The hourly runs past the day: bodies go, metadata stays.
        clock.advance(5 * HOUR)

        async def bodies_gone() -> bool:
            return await store.transcript(cid) == []

        await until(bodies_gone, clock)
        conv = await store.get_conversation(cid)
        assert conv is not None and conv.context == {} and conv.channel_key == f"purged:{cid}"
        events = [e.event for e in await store.handover_events(conversation_id=cid)]
        assert events == ["queued", "answered", "ended"]

        # A day later still, the metadata goes too.
        clock.advance(24 * HOUR)

        async def deleted() -> bool:
            return await store.get_conversation(cid) is None

        await until(deleted, clock)
        assert await store.handover_events(conversation_id=cid) == []
        assert await store.survey_answers(TENANT) == []
