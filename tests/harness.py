"""Builds a daemon in-process with the in-memory adapters and a real SQLite file."""

from __future__ import annotations

import copy
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from handover.clock import Clock
from handover.config.load import Config, parse_config
from handover.daemon.app import Daemon
from handover.sdk.testing import MemoryBot, MemoryChannel, MemoryDesk

TENANT = "test"

BASE: dict[str, Any] = {
    "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01, "backoff_cap_seconds": 0.05},
    "adapters": {
        "chat": {"type": "memory_channel"},
        "bot": {"type": "memory_bot"},
        "desk": {"type": "memory_desk"},
    },
    "tenants": {
        TENANT: {
            "name": "Gemeente Test",
            "channels": ["chat"],
            "bot": "bot",
            "desk": "desk",
            "handover": {"phone": "14 012", "queue_fallback": "bot"},
        }
    },
}


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_config(tmp: Path, extra: Mapping[str, Any] | None = None) -> Config:
    doc = merge(BASE, {"store": {"path": str(tmp / "handover.db")}})
    doc = merge(doc, extra or {})
    return parse_config(doc, base_dir=tmp, env=os.environ)


class Running:
    """A started daemon and its memory adapters."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.chat = cast(MemoryChannel, daemon.adapters["chat"])
        self.bot = cast(MemoryBot, daemon.adapters["bot"])
        self.desk = cast(MemoryDesk, daemon.adapters["desk"])

    async def settle(self) -> None:
        """Let delivery and its follow-ups run until nothing is pending."""
        import asyncio

        for _ in range(200):
            await asyncio.sleep(0.01)
            depth, _age = await self.daemon.store.outbox_stats(self.daemon.clock.now())
            if depth == 0:
                await self.daemon.worker.idle()
                depth, _age = await self.daemon.store.outbox_stats(self.daemon.clock.now())
                if depth == 0:
                    return
        raise AssertionError("outbox did not drain")


@asynccontextmanager
async def running(
    tmp: Path, extra: Mapping[str, Any] | None = None, clock: Clock | None = None
) -> AsyncIterator[Running]:
    daemon = Daemon(make_config(tmp, extra), clock=clock)
    await daemon.start()
    try:
        yield Running(daemon)
    finally:
        await daemon.stop()
