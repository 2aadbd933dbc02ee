"""SIGTERM against the real daemon process: the drain the README promises.

While in-flight work finishes, the process still answers: /readyz and webhooks get 503
(not "connection refused"); open websockets are closed with 1001 going-away; and the
process exits as soon as nothing is in flight, not after the whole drain_seconds.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.daemon_process import CONFIG, Citizen, DaemonProcess

pytestmark = pytest.mark.slow

ORIGIN = "https://www.voorbeeld.nl"
WITH_SOCKETIO = CONFIG.replace("drain_seconds = 5", "drain_seconds = 8").replace(
    'channels = ["rest"]', 'channels = ["rest", "webchat"]'
).replace(
    "[adapters.gem]",
    f'[adapters.webchat]\ntype = "socketio"\n\n[adapters.webchat.tenants.demo]\n'
    f'origins = ["{ORIGIN}"]\n\n[adapters.gem]',
)


async def test_sigterm_answers_503_closes_sockets_and_exits_when_idle(tmp_path: Path) -> None:
    # The bot takes a second over "traag": a delivery in flight when SIGTERM comes.
    d = DaemonProcess(tmp_path / "data", 'delay_seconds = 1.0\nslow_trigger = "traag"',
                      template=WITH_SOCKETIO)
    await d.start()
    try:
        async with aiohttp.ClientSession() as http:
            citizen = Citizen(http, d.url)
            await citizen.open()
            ws = await http.ws_connect(
                f"{d.url}/socket.io/?EIO=4&transport=websocket&tenant=demo",
                headers={"Origin": ORIGIN},
            )
            assert str((await ws.receive(timeout=5)).data).startswith("0{")
            # A long-poll held open across the drain is released, not waited for.
            poll = asyncio.ensure_future(citizen.messages(after=10_000, wait=20))
            await citizen.say("traag")
            await asyncio.sleep(0.3)

            assert d.proc is not None
            began = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            statuses: list[int] = []
            ready_seen = False
            while d.proc.poll() is None and time.monotonic() - began < 10:
                try:
                    async with http.get(f"{d.url}/readyz") as resp:
                        statuses.append(resp.status)
                        ready_seen = ready_seen or resp.status == 503
                except aiohttp.ClientError:
                    break
                await asyncio.sleep(0.01)
            code = await d.wait_exit(15)
            took = time.monotonic() - began
            closed = await ws.receive(timeout=5)
            await poll
            await ws.close()
        assert code == 0
        # Not the full 8 s drain: done once the bot's answer was delivered.
        assert took < 4, took
        assert ready_seen, statuses  # 503 while draining, not connection refused
        assert 200 not in statuses[1:], statuses
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                               aiohttp.WSMsgType.TEXT)
    finally:
        d.terminate()


async def test_a_webhook_during_the_drain_gets_503_draining(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "data", 'delay_seconds = 1.0\nslow_trigger = "traag"')
    await d.start()
    try:
        async with aiohttp.ClientSession() as http:
            citizen = Citizen(http, d.url)
            await citizen.open()
            poll = asyncio.ensure_future(citizen.messages(after=10_000, wait=20))
            # A slow bot turn in flight keeps the drain open for a moment.
            await citizen.say("traag")
            await asyncio.sleep(0.2)
            assert d.proc is not None
            d.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.05)
            seen: list[int] = []
            for _ in range(50):
                try:
                    async with http.post(f"{d.url}/rest/conversations",
                                         json={"tenant": "demo"}) as resp:
                        seen.append(resp.status)
                        if resp.status == 503:
                            assert (await resp.json())["error"] == "draining"
                            break
                except aiohttp.ClientError:
                    break
                await asyncio.sleep(0.01)
            await poll
        assert 503 in seen, seen  # not "connection refused"
        assert await d.wait_exit(15) == 0
    finally:
        d.terminate()
    assert "daemon.stopped" in d.log.read_text()
