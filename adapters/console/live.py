"""Live updates to the agents' pages over a websocket.

The page signs in before the upgrade, with its token in the subprotocol header, and
the Origin and the number of sockets are checked then too (gate.py): a client that is
not an agent never gets a socket. The server's first frame is
`{"type": "ready", "agent": {...}}`, and from then on it pushes events
(`thread`, `message`, `note`, `typing`) for the tenants the agent sees. Nothing is
replayed: a page that reconnects fetches the state again over HTTP, so an event missed
while it was away is never lost, only not pushed.

Each connection has its own queue and writer task, so one slow browser delays no
delivery: a page that falls too far behind is disconnected (it reconnects and
re-fetches) instead of buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from prometheus_client import Gauge

from adapters.console.gate import PROTOCOL, LiveGate
from adapters.console.options import Agent
from adapters.console.presence import RENEW_SECONDS, Presence
from handover.sdk.clock import Clock
from handover.sdk.http import ApiError
from handover.sdk.metrics import REGISTRY

__all__ = ["CONSOLE_CONNECTIONS", "LiveHub"]

CONSOLE_CONNECTIONS = Gauge(
    "handover_console_connections",
    "Signed-in agent pages with a live connection to the console.",
    ["adapter"],
    registry=REGISTRY,
)

#: Events waiting for one page before it is considered gone.
MAX_PENDING = 500
MAX_FRAME_BYTES = 4096
#: Application close code (4000-4999): the page reconnects and re-fetches.
CLOSE_TOO_SLOW = 4429

#: `AdapterContext.spawn`: runs a background task the core tracks.
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, agent: Agent, tenants: frozenset[str]) -> None:
        self.ws = ws
        self.agent = agent
        self.tenants = tenants
        #: Names this page's online record (see presence.py).
        self.id = secrets.token_hex(8)
        self.queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self.overflowed = False

    def push(self, event: Mapping[str, Any]) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            # Wake the writer so it notices and closes the connection.
            self.queue.put_nowait({})
            return
        self.queue.put_nowait(event)

    async def write(self) -> None:
        while True:
            event = await self.queue.get()
            if self.overflowed:
                await self.ws.close(code=CLOSE_TOO_SLOW, message=b"too far behind; reconnect")
                return
            try:
                await self.ws.send_str(json.dumps(event, ensure_ascii=False))
            except (ConnectionError, RuntimeError):
                return


class LiveHub:
    """The open agent pages of one console instance; `presence` records them for the
    availability check of every instance."""

    def __init__(self, adapter_name: str, gate: LiveGate,
                 visible: Callable[[Agent], frozenset[str]], spawn: Spawn,
                 presence: Presence, clock: Clock, log: Any) -> None:
        self.adapter_name = adapter_name
        self.spawn = spawn
        self.presence = presence
        self.clock = clock
        self.log = log
        self.gate = gate
        self.visible = visible
        self._connections: set[_Connection] = set()
        self._closing = False

    def online(self, tenant: str) -> int:
        """How many pages that see `tenant` are connected to this instance."""
        return sum(1 for c in self._connections if tenant in c.tenants)

    async def renew_presence(self) -> None:
        """Renew the online record of every page of this instance, until cancelled."""
        while True:
            await self.clock.sleep(RENEW_SECONDS)
            for conn in list(self._connections):
                await self._arrive(conn)

    async def _arrive(self, conn: _Connection) -> None:
        try:
            await self.presence.arrive(conn.id, conn.agent.id, conn.tenants)
        except Exception:
            # The store is away; the next renewal tries again.
            self.log.warning("console.presence_failed", agent_id=conn.agent.id, exc_info=True)

    async def _leave(self, conn: _Connection) -> None:
        try:
            await self.presence.leave(conn.id)
        except Exception:
            # The store is away: the record runs out by itself (TTL_SECONDS).
            self.log.warning("console.presence_failed", agent_id=conn.agent.id, exc_info=True)

    def publish(self, tenant: str, event: Mapping[str, Any]) -> None:
        """Push an event to every page that sees `tenant` (never blocks)."""
        for conn in list(self._connections):
            if tenant in conn.tenants:
                conn.push(event)

    async def close_all(self) -> None:
        """Shutdown: close every page's socket with 1001, so pages reconnect later."""
        self._closing = True
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"daemon stopping")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            raise ApiError(503, "unavailable", "the daemon is stopping", {"Retry-After": "1"})
        agent = self.gate.admit(request)  # raises before anything is upgraded
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES,
                                   protocols=(PROTOCOL,))
        address = self.gate.opened(request)
        try:
            await ws.prepare(request)
            return await self._serve(ws, agent)
        finally:
            self.gate.closed(address)

    async def _serve(self, ws: web.WebSocketResponse, agent: Agent) -> web.WebSocketResponse:
        conn = _Connection(ws, agent, self.visible(agent))
        self._connections.add(conn)
        await self._arrive(conn)
        gauge = CONSOLE_CONNECTIONS.labels(self.adapter_name)
        gauge.inc()
        writer = self.spawn(conn.write(), f"live-{agent.id}")
        try:
            conn.push({
                "type": "ready",
                "agent": {"id": agent.id, "name": agent.name},
                "tenants": sorted(conn.tenants),
            })
            async for message in ws:
                # The page only listens; anything it sends after signing in is ignored.
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(conn)
            gauge.dec()
            # In a task of its own: aiohttp cancels this handler when the page goes
            # away, which would cancel the delete half-way and leave the agent counted
            # as online (and the desk as available) until the record expires.
            self.spawn(self._leave(conn), f"leave-{agent.id}")
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if not ws.closed:
                await ws.close()
        return ws
