"""The web channel inside a real daemon (router, outbox, SQLite) on a loopback port,
without a browser: the bot answers over the socket, a gap is replayed from the store
after a reconnect, and the handover states reach the widget."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon

ORIGIN = "https://www.gemeente.example"


class Running:
    def __init__(self, daemon: Daemon, url: str, http: aiohttp.ClientSession) -> None:
        self.daemon = daemon
        self.url = url
        self.http = http

    async def widget(self) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(f"{self.url}/web/ws?tenant=demo",
                                          headers={"Origin": ORIGIN})

    async def desk(self, path: str, body: dict[str, Any]) -> None:
        async with self.http.post(f"{self.url}/desk{path}", json=body) as resp:
            assert resp.status == 202, await resp.text()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    doc = {
        "store": {"path": str(tmp_path / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            "web": {"type": "web", "tenants": {"demo": {"origins": [ORIGIN]}}},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
        },
        "tenants": {"demo": {"name": "Gemeente Voorbeeld", "channels": ["web"], "bot": "gem",
                             "desk": "desk", "handover": {"phone": "14 0000"},
                             "survey": {"enabled": True, "ask_comment": False}}},
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
    runner = web.AppRunner(daemon.build_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        yield Running(daemon, f"http://127.0.0.1:{port}", http)
    await runner.cleanup()


async def frames_until(ws: aiohttp.ClientWebSocketResponse, done: Any,
                       timeout: float = 5.0) -> list[dict[str, Any]]:
    """Frames received until `done(frame)` is true for one of them."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads((await ws.receive()).data)
            out.append(frame)
            if done(frame):
                return out


def is_message(text_part: str) -> Any:
    return lambda f: f["type"] == "message" and text_part in f["content"]["text"]


async def test_chat_over_the_socket_with_a_gap_replayed_from_the_store(running: Running):
    ws = await running.widget()
    await ws.send_json({"type": "hello", "tenant": "demo", "language": "nl"})
    welcome = json.loads((await ws.receive()).data)
    cid, token = welcome["conversation_id"], welcome["token"]
    await ws.send_json({"type": "message", "message_id": "m1",
                        "text": "Wanneer wordt het afval opgehaald?"})
    got = await frames_until(ws, lambda f: f["type"] == "message" and f["party"] == "bot")
    assert {"type": "ack", "message_id": "m1", "outcome": "applied"} in got
    bot_seq = got[-1]["seq"]

    await ws.send_json({"type": "action", "action": "request_agent", "action_id": "a1",
                        "context": {"url": "https://www.gemeente.example/afval"}})
    got = await frames_until(ws, lambda f: f["type"] == "state" and f["state"] == "queued")
    assert any(f["type"] == "ack" and f["action_id"] == "a1" for f in got)
    thread = f"{cid}-1"
    await ws.close()

    # While the widget is away the agent joins and writes.
    await running.desk(f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await running.desk(f"/threads/{thread}/messages", {"message_id": "s1", "text": "Hallo!"})
    await asyncio.sleep(0.3)

    ws = await running.widget()
    await ws.send_json({"type": "hello", "tenant": "demo", "conversation_id": cid,
                        "token": token, "last_seq": bot_seq})
    welcome = json.loads((await ws.receive()).data)
    assert welcome["resumed"] is True
    assert (welcome["state"]["state"], welcome["state"]["agent_name"]) == ("agent", "Sanne")
    got = await frames_until(ws, is_message("Hallo!"))
    replayed = [f for f in got if f["type"] == "message"]
    seqs = [f["seq"] for f in replayed]
    assert seqs == sorted(set(seqs)) and min(seqs) > bot_seq
    assert replayed[-1]["party"] == "agent" and replayed[-1]["sender_name"] == "Sanne"

    # Live from here on; the agent closes and the NPS scale comes as buttons 0-10.
    await running.desk(f"/threads/{thread}/close", {"outcome": "solved"})
    got = await frames_until(ws, lambda f: f["type"] == "message"
                             and len(f["content"].get("buttons", [])) == 11)
    await ws.send_json({"type": "message", "message_id": "nps", "text": "9", "payload": "9"})
    await frames_until(ws, lambda f: f["type"] == "ack" and f.get("message_id") == "nps")
    await asyncio.sleep(0.1)
    answers = await running.daemon.store.survey_answers("demo")
    assert [a.score for a in answers] == [9]
    await ws.close()

    # A reload replays everything once, in order, with the widget's own ids back.
    ws = await running.widget()
    await ws.send_json({"type": "hello", "tenant": "demo", "conversation_id": cid,
                        "token": token, "last_seq": 0})
    got = await frames_until(ws, lambda f: f["type"] == "message" and f.get("message_id")
                             == "nps")
    messages = [f for f in got if f["type"] == "message"]
    assert [f["seq"] for f in messages] == list(range(1, len(messages) + 1))
    assert messages[0]["message_id"] == "m1"
    await ws.close()


async def test_behind_a_trusted_proxy_connection_limits_count_citizens(tmp_path: Path) -> None:
    doc = {
        "server": {"trusted_proxies": ["127.0.0.1"]},
        "store": {"path": str(tmp_path / "handover.db")},
        "adapters": {
            "web": {"type": "web", "tenants": {"demo": {"origins": [ORIGIN],
                                                        "connections_per_minute": 1}}},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
        },
        "tenants": {"demo": {"name": "Gemeente Voorbeeld", "channels": ["web"], "bot": "gem",
                             "desk": "desk", "handover": {"phone": "14 0000"}}},
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
    runner = web.AppRunner(daemon.build_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/web/ws?tenant=demo"
    try:
        async with aiohttp.ClientSession() as http:

            async def connect(client: str) -> int:
                headers = {"Origin": ORIGIN, "X-Forwarded-For": client}
                try:
                    ws = await http.ws_connect(url, headers=headers)
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status
                await ws.send_json({"type": "hello", "tenant": "demo"})
                assert json.loads((await ws.receive()).data)["type"] == "welcome"
                await ws.close()
                return 101

            # Two citizens through the same proxy each get their connection; the
            # second connection of one of them within the minute is refused.
            assert await connect("198.51.100.1") == 101
            assert await connect("198.51.100.2") == 101
            assert await connect("198.51.100.1") == 429
    finally:
        await runner.cleanup()
