"""A web channel on a real loopback aiohttp server, with the fake core context."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.web.adapter import WebChannel
from tests.adapters.conftest import TENANT, FakeContext

ORIGIN = "https://www.gemeente.example"


def section(**tenant: Any) -> dict[str, Any]:
    top = {k: tenant.pop(k) for k in list(tenant) if k in
           ("max_frame_bytes", "max_text_length", "hello_timeout_seconds",
            "leave_grace_seconds", "sockets_per_address")}
    return {**top, "tenants": {TENANT: {"origins": [ORIGIN], **tenant}}}


class Widget:
    """A widget's side of one socket: send frames, read frames by type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, **frame: Any) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        data: dict[str, Any] = json.loads(msg.data)
        return data

    async def recv_type(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame

    async def closed(self, timeout: float = 3.0) -> int | None:
        """Read until the server closes; the close code."""
        while True:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING):
                return self.ws.close_code

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send(type="hello", tenant=TENANT, **fields)
        return await self.recv_type("welcome")


class WebRig:
    def __init__(self, channel: WebChannel, ctx: FakeContext, client: TestClient) -> None:
        self.channel = channel
        self.ctx = ctx
        self.client = client

    async def connect(self, origin: str = ORIGIN, tenant: str = TENANT) -> Widget:
        ws = await self.client.ws_connect(f"/web/ws?tenant={tenant}", headers={"Origin": origin})
        return Widget(ws)

    async def opened(self, **hello: Any) -> tuple[Widget, dict[str, Any]]:
        widget = await self.connect()
        return widget, await widget.hello(**hello)


@pytest.fixture
async def make_rig() -> Any:
    clients: list[TestClient] = []

    async def build(config: dict[str, Any] | None = None,
                    ctx: FakeContext | None = None) -> WebRig:
        ctx = ctx or FakeContext("web")
        options = WebChannel.parse_config(config or section(), "adapters.web")
        channel = WebChannel("web", options, ctx)
        root = web.Application()
        root.add_subapp("/web/", channel.http_app())
        client = TestClient(TestServer(root))
        await client.start_server()
        clients.append(client)
        await channel.start()
        return WebRig(channel, ctx, client)

    yield build
    for client in clients:
        await client.close()


MakeRig = Callable[..., Any]
