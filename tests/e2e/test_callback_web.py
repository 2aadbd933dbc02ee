"""The callback request on the web channel, in-process: the real widget socket, router,
outbox and SQLite, the demo bot, and the memory registration target. The KCC is closed;
the citizen answers with the offered buttons and one request is registered."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.sdk.testing import MemoryRegistry

ORIGIN = "https://www.gemeente.example"


async def frames_until(ws: aiohttp.ClientWebSocketResponse, done: Any,
                       timeout: float = 5.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads((await ws.receive()).data)
            out.append(frame)
            if done(frame):
                return out


def message_with(part: str) -> Any:
    return lambda f: f["type"] == "message" and part in f["content"]["text"]


async def test_web_widget_outside_hours_registers_one_callback(tmp_path: Path) -> None:
    doc = {
        "store": {"path": str(tmp_path / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            "web": {"type": "web", "tenants": {"demo": {"origins": [ORIGIN]}}},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
            "register": {"type": "memory_registry"},
        },
        "tenants": {"demo": {
            "name": "Gemeente Voorbeeld", "channels": ["web"], "bot": "gem", "desk": "desk",
            "handover": {"phone": "14 0000"}, "registries": ["register"],
            "callback": {"enabled": True},
            # No opening hours at all: the KCC is closed whenever this test runs.
            "hours": {"timezone": "Europe/Amsterdam"},
        }},
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
    runner = web.AppRunner(daemon.build_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{url}/web/ws?tenant=demo", headers={"Origin": ORIGIN})
            await ws.send_json({"type": "hello", "tenant": "demo", "language": "nl"})
            json.loads((await ws.receive()).data)
            await ws.send_json({"type": "message", "message_id": "m1",
                                "text": "Mijn paspoort is verlopen"})
            await frames_until(ws, lambda f: f["type"] == "message" and f["party"] == "bot")

            await ws.send_json({"type": "action", "action": "request_agent", "action_id": "a1"})
            got = await frames_until(ws, message_with("contact met u opneemt"))
            offer = got[-1]["content"]["buttons"]
            await frames_until(ws, lambda f: f["type"] == "state" and f["state"] == "callback")
            assert [b["payload"] for b in offer] == ["/callback_yes", "/callback_no"]

            answers = [("Ja, graag", "/callback_yes", "telefoonnummer of e-mailadres"),
                       ("06-12345678", None, "Wat is uw naam"),
                       ("Jan", None, "Mijn paspoort is verlopen"),
                       ("Deze vraag", "/callback_same", "bewaard met nummer")]
            for n, (text, payload, expect) in enumerate(answers):
                frame: dict[str, Any] = {"type": "message", "message_id": f"c{n}", "text": text}
                if payload:
                    frame["payload"] = payload
                await ws.send_json(frame)
                got = await frames_until(ws, message_with(expect))
            confirmed = got[-1]["content"]["text"]
            assert "zo snel mogelijk" in confirmed
            await frames_until(ws, lambda f: f["type"] == "state" and f["state"] == "bot")
            await ws.close()

            target = cast(MemoryRegistry, daemon.adapters["register"])
            for _ in range(100):
                if target.callbacks:
                    break
                await asyncio.sleep(0.05)
            [request] = target.callbacks.values()
            assert request.reference in confirmed
            assert (request.address, request.question, request.channel_type) == (
                "+31612345678", "Mijn paspoort is verlopen", "web")
            assert sum(target.offered.values()) == 1
    finally:
        await runner.cleanup()
