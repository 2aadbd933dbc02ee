"""The contention counters that `bench/scaleout.py` reads per 1,000 relayed messages:
a conflict retried by the router and a claim on news of work that found none."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from handover import metrics
from handover.model import Party
from handover.store.base import VersionConflict
from tests.harness import TENANT, running


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_version_conflict_is_counted_and_the_event_applied_on_a_fresh_read(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        store: Any = r.daemon.store
        commit = store.commit
        conflicts = [VersionConflict("another instance wrote first")]

        async def commit_once_late(step: Any) -> Any:
            if conflicts:
                raise conflicts.pop()
            return await commit(step)

        store.commit = commit_once_late
        before = _value("handover_version_conflicts_total")
        await r.chat.say(conv.id, "hallo")
        await asyncio.wait_for(r.settle(), 10)
        assert _value("handover_version_conflicts_total") == before + 1
        assert [m.party for m in r.chat.shown[conv.id]] == [Party.BOT]


async def test_a_claim_on_news_of_work_that_finds_none_is_counted(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        await asyncio.wait_for(r.settle(), 10)
        before = _value("handover_claim_retries_total")
        r.daemon.worker.wake()  # news of work that another instance already took
        for _ in range(100):
            if _value("handover_claim_retries_total") > before:
                break
            await asyncio.sleep(0.01)
        assert _value("handover_claim_retries_total") == before + 1

