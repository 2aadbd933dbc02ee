"""Fault drills for WhatsApp: the link to Meta's Graph API goes down for "a minute"
(scaled, see drill_stack) and flaps, connections cut mid-request included. Afterwards
every bot answer has reached the citizen once, in order: a send whose answer was lost
is reconciled through Meta's status webhooks, not sent blindly again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from handover import metrics
from handover.config.load import parse_config
from handover.daemon.app import Daemon
from tests.e2e.drill_stack import BACKOFF_CAP, OUTAGE_SECONDS, Outage, healthz
from tests.fakes.whatsapp_server import VERSION, FakeGraph
from tests.harness import BASE, TENANT

CITIZEN = "31612345678"
ENV = {"WA_TOKEN": "graph-token-1", "WA_SECRET": "app-secret-1", "WA_VERIFY": "verify-1"}


@dataclass
class WhatsAppDrill:
    daemon: Daemon
    graph: FakeGraph
    link: Outage
    url: str

    def answers(self) -> list[str]:
        return [t for t in self.graph.texts() if t.startswith("bot: ")]


@contextlib.asynccontextmanager
async def whatsapp_drill(tmp: Path) -> AsyncIterator[WhatsAppDrill]:
    async with contextlib.AsyncExitStack() as stack:
        graph = FakeGraph()
        await graph.start()
        stack.push_async_callback(graph.stop)
        graph.auto_status = True  # Meta reports every message it took
        link = Outage(int(graph.url.rsplit(":", 1)[1]))
        await link.up()
        wa: dict[str, Any] = {
            "type": "whatsapp", "graph_url": f"http://127.0.0.1:{link.port}",
            "api_version": VERSION, "access_token": "${WA_TOKEN}",
            "app_secret": "${WA_SECRET}", "verify_token": "${WA_VERIFY}",
            "public_url": "https://handover.test/wa", "media_dir": str(tmp / "media"),
            "state_path": str(tmp / "wa.db"), "request_timeout_seconds": 0.5,
            # Scaled like the backoff: how long a lost answer waits for a status.
            "reconcile_seconds": 5 * BACKOFF_CAP,
            "tenants": {TENANT: {"phone_number_id": graph.phone_number_id,
                                 "template_name": "agent_reply", "template_language": "nl"}},
        }
        doc = {
            **BASE,
            "store": {"path": str(tmp / "handover.db")},
            "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.02,
                         "backoff_cap_seconds": BACKOFF_CAP},
            "adapters": {"wa": wa, "bot": {"type": "memory_bot"},
                         "desk": {"type": "memory_desk"}},
            "tenants": {TENANT: {**BASE["tenants"][TENANT], "channels": ["wa"]}},
        }
        daemon = Daemon(parse_config(doc, base_dir=tmp, env=ENV))
        runner = web.AppRunner(daemon.build_app(), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        graph.webhook_url = f"{url}/wa/webhook"
        yield WhatsAppDrill(daemon, graph, link, url)


def upstream_errors() -> float:
    return sum(s.value for m in metrics.UPSTREAM_ERRORS.collect() for s in m.samples
               if s.name.endswith("_total"))


async def test_graph_api_down_for_a_minute_then_every_answer_once_in_order(
    tmp_path: Path,
) -> None:
    async with whatsapp_drill(tmp_path) as d:
        assert (await d.graph.say(CITIZEN, "hallo"))[0] == 200
        await d.graph.wait_for(lambda: d.answers() == ["bot: hallo"], timeout=10)
        errors = upstream_errors()
        await d.link.down()
        said = [f"vraag {n}" for n in range(6)]
        for text in said:
            # Meta's webhooks still reach the daemon: only the way back is down.
            assert (await d.graph.say(CITIZEN, text))[0] == 200
            await asyncio.sleep(OUTAGE_SECONDS / 6)
        assert d.answers() == ["bot: hallo"]
        assert await healthz(d.url) == 200
        await d.link.up()
        want = ["bot: hallo", *(f"bot: {t}" for t in said)]
        await d.graph.wait_for(lambda: len(d.answers()) >= len(want), timeout=20)
        await asyncio.sleep(6 * BACKOFF_CAP)  # room for a double to show up
        assert d.answers() == want
        assert upstream_errors() > errors  # the outage was hit, not slept through


async def test_graph_api_flapping_with_cut_requests_once_in_order(tmp_path: Path) -> None:
    async with whatsapp_drill(tmp_path) as d:
        errors = upstream_errors()
        said = [f"vraag {n}" for n in range(10)]

        async def flap() -> None:
            for _ in range(8):
                await asyncio.sleep(0.15)
                await d.link.down()  # also cuts the requests in flight
                await asyncio.sleep(0.15)
                await d.link.up()

        flapping = asyncio.create_task(flap())
        for text in said:
            assert (await d.graph.say(CITIZEN, text))[0] == 200
            await asyncio.sleep(0.1)
        await flapping
        want = [f"bot: {t}" for t in said]
        await d.graph.wait_for(lambda: len(d.answers()) >= len(want), timeout=30)
        await asyncio.sleep(6 * BACKOFF_CAP)
        assert d.answers() == want
        assert upstream_errors() > errors
