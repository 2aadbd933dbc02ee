"""socket.io (rasa-webchat) on three daemon processes sharing one PostgreSQL database.

The citizen's socket.io connection (websocket transport) is held by one instance while
the desk's webhooks land on the others; that instance is killed with SIGKILL in the
middle of a stream of agent messages, and the widget, reconnecting to another instance
with its session id, sees every agent message once, in order. Before, the instances
without the socket counted their deliveries as sent and the widget lost them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.test_scaleout import TEMPLATE as WEB_TEMPLATE
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = pytest.mark.slow

ORIGIN = "https://www.gemeente.example"
TEMPLATE = WEB_TEMPLATE.replace('channels = ["web", "rest"]', 'channels = ["webchat"]').replace(
    "[adapters.gem]",
    '[adapters.webchat]\ntype = "socketio"\n'
    '[adapters.webchat.tenants.demo]\norigins = ["https://www.gemeente.example"]\n\n'
    "[adapters.gem]",
)


class Widget:
    """rasa-webchat as python-socketio: one connection at a time, the session id kept."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.seen: list[dict[str, Any]] = []
        self.client: socketio.AsyncClient | None = None
        self.arrived = asyncio.Event()

    async def connect(self, instance: DaemonProcess) -> None:
        client = socketio.AsyncClient(
            reconnection=False,
            http_session=lambda: aiohttp.ClientSession(headers={"Origin": ORIGIN}),
        )
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        @client.on("session_confirm")
        async def on_confirm(data: str) -> None:
            if not confirmed.done():
                confirmed.set_result(data)

        @client.on("bot_uttered")
        async def on_message(data: dict[str, Any]) -> None:
            self.seen.append(data)
            self.arrived.set()

        await client.connect(f"{instance.url}/?tenant=demo", transports=["websocket"],
                             wait_timeout=10)
        await client.emit("session_request", {"session_id": self.session_id})
        self.session_id = await asyncio.wait_for(confirmed, 10)
        self.client = client

    async def say(self, text: str) -> Any:
        assert self.client is not None
        return await self.client.call("user_uttered", {
            "message": text, "session_id": self.session_id,
            "customData": {"language": "nl"}}, timeout=10)

    async def until(self, done: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()

    def agent_texts(self) -> list[str]:
        return [p["text"].split(": ", 1)[1] for p in self.seen
                if p["metadata"].get("party") == "agent" and "text" in p]

    async def close(self) -> None:
        if self.client is not None and self.client.connected:
            await self.client.disconnect()


@pytest.fixture
async def cluster(tmp_path: Path, pg_server: PgServer
                  ) -> AsyncIterator[tuple[FakeObi4wan, list[DaemonProcess]]]:
    fake = FakeObi4wan()
    await fake.start()
    env = {
        "HANDOVER_TEST_DSN": await fresh_database(pg_server),
        "OBI_URL": fake.url, "OBI_TOKEN": fake.channel_token, "OBI_SECRET": fake.webhook_secret,
    }
    instances = [DaemonProcess(tmp_path / n, "poll_seconds = 0.2", template=TEMPLATE, env=env)
                 for n in ("a", "b", "c")]
    try:
        await asyncio.gather(*(d.start(timeout=60) for d in instances))
        yield fake, instances
    finally:
        for d in instances:
            d.terminate()
        await fake.stop()


async def test_agent_messages_reach_the_widget_once_in_order_across_a_sigkill(
    cluster: tuple[FakeObi4wan, list[DaemonProcess]],
) -> None:
    fake, (a, b, c) = cluster
    widget = Widget()
    await widget.connect(b)
    assert await widget.say("Ik wil een medewerker spreken") == {"outcome": "applied"}
    await fake.wait_for(lambda: bool(fake.threads), timeout=20)
    [thread] = list(fake.threads)
    fake.webhook_url = f"{a.url}/desk/webhook"
    assert (await fake.join(thread))[0] == 200
    texts = [f"bericht {n}" for n in range(30)]
    killed = asyncio.Event()

    async def agent_writes() -> None:
        for n, text in enumerate(texts):
            # The load balancer spreads the desk's webhooks over the live instances.
            fake.webhook_url = f"{(a if n % 2 else c).url}/desk/webhook"
            status, _ = await fake.say(thread, text)
            assert status == 200
            if n == 10:
                b.kill()  # SIGKILL, mid-stream, with the citizen's connection on it
                killed.set()
            await asyncio.sleep(0.02)

    writer = asyncio.create_task(agent_writes())
    try:
        await killed.wait()
        await widget.close()
        # The widget reconnects (the load balancer now sends it to C) with its session.
        await widget.connect(c)
        await writer
        # B's connection lease runs out (30 s) before another instance delivers.
        await widget.until(lambda: widget.agent_texts()[-1:] == texts[-1:], timeout=90)
        await asyncio.sleep(1.0)
    finally:
        writer.cancel()
        await widget.close()
    assert widget.agent_texts() == texts
    seqs = [p["metadata"]["seq"] for p in widget.seen]
    assert seqs == sorted(set(seqs))
