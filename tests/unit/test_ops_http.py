"""/healthz, /readyz and /metrics against a real SQLite store and a fake daemon view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.clock import FakeClock
from handover.daemon.health import HealthBoard
from handover.http.middleware import draining_middleware, error_middleware
from handover.http.ops import OpsView, ops_routes
from handover.metrics import REGISTRY
from handover.model import Conversation, OutboxItem, Target
from handover.sdk.contracts import Health
from handover.store.base import Step, Store, StoreError
from handover.store.sqlite.store import SQLiteStore

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]
CONV = "0123456789abcdef0123456789abcdef"


class SlowPingStore(SQLiteStore):
    """A store whose ping hangs, like a database behind a dead network path."""

    async def ping(self) -> None:
        await asyncio.sleep(30)


class BrokenStatsStore(SQLiteStore):
    async def outbox_stats(self, now: datetime) -> tuple[int, float]:
        raise StoreError("disk I/O error")


@dataclass
class FakeView:
    store: Store
    health: HealthBoard = field(default_factory=HealthBoard)
    draining: bool = False
    admin_tokens: tuple[str, ...] = ()
    expected_schema_version: int = 1
    clock: FakeClock = field(default_factory=FakeClock)
    wakes: int = 0

    def now(self) -> datetime:
        return self.clock.now()

    def wake_delivery(self) -> None:
        self.wakes += 1


def _check_protocol(view: FakeView) -> OpsView:
    return view  # mypy: the fake must satisfy the protocol the daemon implements


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "handover.db", clock=clock)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def view(store: SQLiteStore, clock: FakeClock) -> FakeView:
    return FakeView(store=store, clock=clock, expected_schema_version=await store.schema_version())


@pytest.fixture
async def client(aiohttp_client: MakeClient, view: FakeView) -> Client:
    return await _client(aiohttp_client, view)


async def _client(aiohttp_client: MakeClient, view: FakeView, **kwargs: float) -> Client:
    app = web.Application(middlewares=[error_middleware, draining_middleware(view)])
    app.add_routes(ops_routes(view, **kwargs))
    return await aiohttp_client(app)


async def test_healthz_is_ok_even_when_store_is_down(
    client: Client, view: FakeView, store: SQLiteStore
) -> None:
    await store.close()
    view.draining = True
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_ready(client: Client, view: FakeView) -> None:
    view.health.set("web", "channel", Health.CONNECTED)
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ready"
    assert body["store"] == {
        "reachable": True,
        "schema_version": view.expected_schema_version,
        "expected_schema_version": view.expected_schema_version,
    }
    assert body["adapters"] == {"web": {"kind": "channel", "health": "connected", "detail": ""}}
    assert "reasons" not in body


async def test_readyz_adapter_down_is_degraded_not_unready(client: Client, view: FakeView) -> None:
    view.health.set("web", "channel", Health.CONNECTED)
    view.health.set("obi", "desk", Health.DISCONNECTED, "connection refused")
    view.health.set("gem", "bot", Health.AUTH_FAILED)
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "degraded"
    assert body["adapters"]["obi"] == {
        "kind": "desk",
        "health": "disconnected",
        "detail": "connection refused",
    }
    assert body["adapters"]["gem"]["health"] == "auth_failed"
    assert set(body["adapters"]) == {"web", "obi", "gem"}


async def test_readyz_store_down(client: Client, store: SQLiteStore) -> None:
    await store.close()
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "unready"
    assert body["reason"] == "store_unavailable"
    assert body["store"]["reachable"] is False
    assert "not open" not in await resp.text()  # the driver's message stays in the log


async def test_readyz_store_hanging_times_out(
    aiohttp_client: MakeClient, tmp_path: Path, clock: FakeClock
) -> None:
    store = SlowPingStore(tmp_path / "slow.db", clock=clock)
    await store.open()
    try:
        client = await _client(aiohttp_client, FakeView(store=store), store_timeout=0.05)
        resp = await asyncio.wait_for(client.get("/readyz"), 5)
        assert resp.status == 503
        assert (await resp.json())["reasons"] == ["store_timeout"]
    finally:
        await store.close()


async def test_readyz_schema_mismatch(client: Client, view: FakeView) -> None:
    actual = view.expected_schema_version
    view.expected_schema_version = actual + 1
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["reasons"] == ["schema_mismatch"]
    assert body["store"]["schema_version"] == actual
    assert body["store"]["expected_schema_version"] == actual + 1


async def test_readyz_draining(client: Client, view: FakeView) -> None:
    view.draining = True
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["reason"] == "draining"
    assert body["draining"] is True


async def test_readyz_dead_core_loop_is_unready(client: Client, view: FakeView) -> None:
    view.health.set("outbox-worker", "core", Health.DISCONNECTED, "loop died")
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["reasons"] == ["core_loop_down"]


async def test_readyz_recovers(client: Client, view: FakeView) -> None:
    view.draining = True
    assert (await client.get("/readyz")).status == 503
    view.draining = False
    assert (await client.get("/readyz")).status == 200


async def _commit_outbox(store: Store, n: int) -> None:
    conv = Conversation(id=CONV, tenant="utrecht", channel="web", channel_key="k", language="nl")
    items = [OutboxItem(CONV, Target.BOT, "message", {"text": f"m{i}"}, 0) for i in range(n)]
    await store.commit(Step(conversation=conv, outbox=items))


async def test_metrics_exposition_with_outbox_gauges(
    client: Client, store: SQLiteStore, clock: FakeClock
) -> None:
    await _commit_outbox(store, 3)
    clock.advance(42)
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert "version=" in resp.headers["Content-Type"]
    text = await resp.text()
    assert "# TYPE handover_outbox_depth gauge" in text
    assert "handover_outbox_depth 3.0" in text
    assert "handover_outbox_oldest_age_seconds 42.0" in text
    assert "handover_event_loop_lag_seconds_bucket" in text
    assert "# TYPE handover_inbound_events_total counter" in text


async def test_metrics_render_despite_store_error(
    aiohttp_client: MakeClient, tmp_path: Path, clock: FakeClock
) -> None:
    store = BrokenStatsStore(tmp_path / "broken.db", clock=clock)
    await store.open()
    try:
        client = await _client(aiohttp_client, FakeView(store=store))
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert "handover_outbox_depth" in await resp.text()
    finally:
        await store.close()


async def test_metrics_gauges_follow_the_store(client: Client, store: SQLiteStore) -> None:
    await client.get("/metrics")
    assert REGISTRY.get_sample_value("handover_outbox_depth") == 0
    await _commit_outbox(store, 2)
    await client.get("/metrics")
    assert REGISTRY.get_sample_value("handover_outbox_depth") == 2


async def test_ops_endpoints_stay_up_while_draining(client: Client, view: FakeView) -> None:
    view.draining = True
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/metrics")).status == 200
    assert (await client.get("/readyz")).status == 503  # unready, but answered
