"""The outbox worker with every delivery slot busy must still let deliveries finish."""

from __future__ import annotations

import asyncio
from pathlib import Path

from handover.model import Party
from tests.harness import TENANT, running


async def test_more_conversations_than_delivery_slots(tmp_path: Path) -> None:
    extra = {"delivery": {"concurrency": 2}}
    async with running(tmp_path, extra) as r:
        r.bot.gate = asyncio.Event()  # hold the bot so both slots stay busy
        convs = [await r.chat.open(TENANT) for _ in range(6)]
        for conv in convs:
            await r.chat.say(conv.id, "hallo")
        await asyncio.sleep(0.2)  # slots full, new work keeps waking the worker
        r.bot.gate.set()
        await asyncio.wait_for(r.settle(), 10)
        for conv in convs:
            assert [m.party for m in r.chat.shown[conv.id]] == [Party.BOT]
