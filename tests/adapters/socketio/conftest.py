"""The socket.io channel inside a real daemon (router, outbox, SQLite, the demo bot and
the demo desk) on a loopback port, and python-socketio clients playing the widget."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon

ORIGIN = "https://www.gemeente.example"
TENANT = "demo"


class Widget:
    """One widget connection: what the daemon emitted, by event, in order."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.received: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.session_id: str | None = None

        @client.on("*")
        async def any_event(event: str, data: Any = None) -> None:
            await self.received.put((event, data))

        @client.on("session_confirm")
        async def confirmed(data: Any) -> None:
            self.session_id = data
            await self.received.put(("session_confirm", data))

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                name, data = await self.received.get()
                if name == event:
                    return data

    async def until(self, done: Callable[[dict[str, Any]], bool],
                    timeout: float = 5.0) -> list[dict[str, Any]]:
        """`bot_uttered` payloads until `done(payload)` holds for one."""
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                name, data = await self.received.get()
                if name == "bot_uttered":
                    out.append(data)
                    if done(data):
                        return out

    def pending(self) -> list[tuple[str, Any]]:
        out = []
        while not self.received.empty():
            out.append(self.received.get_nowait())
        return out

    async def session(self, session_id: str | None = None) -> str:
        await self.client.emit("session_request", {"session_id": session_id})
        confirmed: str = await self.next("session_confirm")
        return confirmed

    async def say(self, text: str, **extra: Any) -> Any:
        """user_uttered as rasa-webchat sends it; returns the daemon's ack."""
        data = {"message": text, "customData": {"language": "nl"},
                "session_id": self.session_id, **extra}
        return await self.client.call("user_uttered", data, timeout=5)

    async def close(self) -> None:
        """Leave as a browser does when the page goes: a websocket is closed, a
        long-poll dropped at once (this client's own disconnect would wait for it)."""
        if self.client.transport() != "websocket":
            await self.client.eio.disconnect(abort=True)
        await self.client.disconnect()


def browser_client(origin: str | None = ORIGIN, **options: Any) -> socketio.AsyncClient:
    """A python-socketio client that sends Origin with every request, as a browser does
    for a widget embedded on another site (the client itself sends headers only with the
    first request)."""
    headers = {"Origin": origin} if origin else {}
    return socketio.AsyncClient(
        reconnection=False, http_session=lambda: aiohttp.ClientSession(headers=headers),
        **options,
    )


class Running:
    def __init__(self, daemon: Daemon, url: str, http: aiohttp.ClientSession,
                 runner: web.AppRunner) -> None:
        self.daemon = daemon
        self.runner = runner
        self.url = url
        self.http = http
        self.widgets: list[Widget] = []

    async def widget(self, origin: str = ORIGIN, query: str = "?tenant=demo",
                     transports: list[str] | None = None) -> Widget:
        client = browser_client(origin)
        widget = Widget(client)
        await client.connect(f"{self.url}/{query}", headers={"Origin": origin},
                             transports=transports or ["websocket"], wait_timeout=5)
        self.widgets.append(widget)
        return widget

    async def queued(self) -> tuple[Any, str]:
        """The conversation waiting at the desk, and its thread."""
        for _ in range(100):
            threads = [t for t in await self.desk("GET", "/threads") if t["status"] != "closed"]
            if threads:
                [t] = threads
                conv = await self.daemon.store.get_conversation(t["conversation_id"])
                return conv, str(t["thread_id"])
            await asyncio.sleep(0.05)
        raise AssertionError("no desk thread")

    async def desk(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, f"{self.url}/desk{path}", json=body) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()


def daemon_config(tmp_path: Path, **socketio_options: Any) -> dict[str, Any]:
    tenant = {k: socketio_options.pop(k) for k in list(socketio_options)
              if k in ("messages_per_minute", "events_per_minute", "connections_per_minute")}
    return {
        "store": {"path": str(tmp_path / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            "sio": {"type": "socketio", **socketio_options,
                    "tenants": {TENANT: {"origins": [ORIGIN], **tenant}}},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
        },
        "tenants": {TENANT: {"name": "Gemeente Voorbeeld", "channels": ["sio"], "bot": "gem",
                             "desk": "desk", "handover": {"phone": "14 0000"},
                             "survey": {"enabled": True, "ask_comment": False}}},
    }


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []
    running: list[Running] = []
    async with aiohttp.ClientSession() as http:

        async def build(**socketio_options: Any) -> Running:
            doc = daemon_config(tmp_path, **socketio_options)
            daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
            runner = web.AppRunner(daemon.build_app())
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            run = Running(daemon, f"http://127.0.0.1:{runner.addresses[0][1]}", http, runner)
            running.append(run)
            return run

        yield build
        for run in running:
            for widget in run.widgets:
                if widget.client.connected:
                    await widget.close()
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def running(start: Callable[..., Any]) -> Running:
    run: Running = await start()
    return run
