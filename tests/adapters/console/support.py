"""A daemon with the console as its desk, served over real HTTP on loopback, and
helpers for an agent's page (HTTP API and live websocket)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from adapters.console.adapter import ConsoleDesk
from handover.daemon.app import Daemon
from handover.model import Conversation
from handover.sdk.testing import MemoryBot, MemoryChannel
from tests.harness import TENANT, make_config

OTHER_TENANT = "ander"
TOKENS = {
    "sanne": "sanne-0123456789abcdef",
    "ahmed": "ahmed-0123456789abcdef",
    "ahmed_old": "ahmed-old-0123456789ab",
    "piet": "piet-0123456789abcdefgh",
}
PAGE = {"url": "https://gemeente.example/afval", "title": "Afval ophalen",
        "referrer": "https://zoek.example/?q=container"}


def console_config(tmp: Path, **options: Any) -> dict[str, Any]:
    desk: dict[str, Any] = {
        "type": "console",
        "agents": [
            {"id": "sanne", "name": "Sanne", "token": "${CONSOLE_TOKEN_SANNE}"},
            {"id": "ahmed", "name": "Ahmed",
             "token": ["${CONSOLE_TOKEN_AHMED}", "${CONSOLE_TOKEN_AHMED_OLD}"]},
            {"id": "piet", "name": "Piet", "token": "${CONSOLE_TOKEN_PIET}",
             "tenants": [OTHER_TENANT]},
        ],
    }
    desk.update(options)
    return {
        "adapters": {"desk": desk},
        "tenants": {
            OTHER_TENANT: {"name": "Gemeente Anders", "channels": ["chat"], "bot": "bot",
                           "desk": "desk", "handover": {"queue_fallback": "bot"}},
        },
    }


def live_protocols(agent: str) -> tuple[str, str]:
    """The subprotocols an agent's page offers: the token travels in the header."""
    encoded = base64.urlsafe_b64encode(TOKENS[agent].encode()).decode().rstrip("=")
    return ("handover.console", f"auth.{encoded}")


def bearer(agent: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[agent]}"}


class Live:
    """An agent page's websocket: collects what the console pushes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def next(self, predicate: Callable[[dict[str, Any]], bool],
                   timeout: float = 5.0) -> dict[str, Any]:
        """The first event (already received or arriving) that satisfies `predicate`."""
        for event in self.events:
            if predicate(event):
                self.events.remove(event)
                return event

        async def wait() -> dict[str, Any]:
            while True:
                event = await self.ws.receive_json()
                if predicate(event):
                    return event
                self.events.append(event)

        return await asyncio.wait_for(wait(), timeout)


@dataclass
class Console:
    daemon: Daemon
    client: TestClient[Any, Any]

    @property
    def chat(self) -> MemoryChannel:
        return cast(MemoryChannel, self.daemon.adapters["chat"])

    @property
    def bot(self) -> MemoryBot:
        return cast(MemoryBot, self.daemon.adapters["bot"])

    @property
    def desk(self) -> ConsoleDesk:
        return cast(ConsoleDesk, self.daemon.adapters["desk"])

    async def get(self, path: str, agent: str | None = "sanne") -> tuple[int, Any]:
        resp = await self.client.get(f"/desk/api/{path}",
                                     headers=bearer(agent) if agent else None)
        return resp.status, await resp.json()

    async def post(self, path: str, body: Any = None, agent: str = "sanne") -> tuple[int, Any]:
        resp = await self.client.post(f"/desk/api/{path}", json=body, headers=bearer(agent))
        return resp.status, await resp.json()

    async def live(self, agent: str) -> Live:
        ws = await self.client.ws_connect("/desk/api/live", protocols=live_protocols(agent))
        live = Live(ws)
        ready = await live.next(lambda e: e["type"] == "ready")
        assert ready["agent"]["id"] == agent
        return live

    async def handover(self, live: Live, key: str = "inwoner-1",
                       tenant: str = TENANT) -> tuple[Conversation, str]:
        """A citizen talks to the bot on a page, then asks for a person; returns the
        conversation and its desk thread once the console announced it."""
        conv = await self.chat.ctx.resolve_conversation(tenant, key, "nl", PAGE)
        await self.chat.say(conv.id, "Mijn container is niet geleegd")
        await self.chat.say(conv.id, "/handover")
        thread = f"{conv.id}-1"
        await live.next(lambda e: e["type"] == "thread" and e["thread"]["thread_id"] == thread)
        return conv, thread


@asynccontextmanager
async def console_daemon(tmp: Path, **options: Any) -> AsyncIterator[Console]:
    """The daemon as `handover run` builds it (routes, middlewares, lifecycle), with the
    memory channel and bot and the console as desk, on a loopback port."""
    daemon = Daemon(make_config(tmp, console_config(tmp, **options)))
    async with TestClient(TestServer(daemon.build_app())) as client:
        yield Console(daemon, client)


def texts(items: list[Mapping[str, Any]], party: str) -> list[str]:
    return [str(i["text"]) for i in items if i["party"] == party]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `predicate` holds (for state the memory adapters record without a
    waiter of their own)."""
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)
