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

import pytest

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.scaleout_support import OBI4WAN_DESK, SOCKETIO, config, obi4wan_env, running
from tests.e2e.scaleout_support import SocketioWidget as Widget
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = pytest.mark.slow

TEMPLATE = config(SOCKETIO, OBI4WAN_DESK, channels=["webchat"])


@pytest.fixture
async def cluster(tmp_path: Path, pg_server: PgServer
                  ) -> AsyncIterator[tuple[FakeObi4wan, list[DaemonProcess]]]:
    fake = FakeObi4wan()
    await fake.start()
    env = {"HANDOVER_TEST_DSN": await fresh_database(pg_server), **obi4wan_env(fake)}
    try:
        async with running(tmp_path, TEMPLATE, env) as instances:
            yield fake, instances
    finally:
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
