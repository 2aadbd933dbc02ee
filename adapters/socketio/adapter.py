"""The socket.io channel: Rasa's socket.io protocol, so the rasa-webchat widget (and
Gem's fork of it) can be pointed at the daemon with only its socket URL changed.

Routes: the socket.io endpoint at `socketio_path` from the root of the daemon
(`/socket.io/` by default, where socket.io clients look unless told otherwise), and
`GET /<instance name>/` answering `{"status": "ok"}` as Rasa's channel does.

`deliver()` emits to the connections that hold the session on this instance. With
none here it fails as transient, so the outbox keeps the message until a connection
holds the session again, on this instance or another (connection leases route it
there); a widget that comes back to the instance it left gets the gap replayed from the
transcript at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from adapters.socketio.options import SocketIOOptions, parse_options
from adapters.socketio.server import SocketIOEndpoint
from handover.sdk.contracts import (
    AdapterContext,
    ChannelAdapter,
    ChannelCapabilities,
    Health,
    OutboundMessage,
)
from handover.sdk.model import Conversation

__all__ = ["SocketIOChannel"]


class SocketIOChannel(ChannelAdapter):
    """rasa-webchat (and Gem's widget) over Rasa's socket.io protocol."""

    resend_safe = True
    #: Quick replies: 11, so the NPS question's 0-10 scale stays clickable. Attachments:
    #: images and videos inline, other files as links. No state display and no typing:
    #: the widget has neither, so queue and agent notices come as messages.
    capabilities = ChannelCapabilities(max_buttons=11, attachments=True)

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options: SocketIOOptions = (
            config if isinstance(config, SocketIOOptions) else SocketIOOptions()
        )
        self.endpoint = SocketIOEndpoint(ctx, name, self.options)

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> SocketIOOptions:
        return parse_options(section, path)

    def http_app(self) -> web.Application:
        app = web.Application()

        async def status(_request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        async def close_connections(_app: web.Application) -> None:
            # aiohttp waits for running handlers on shutdown; an open websocket would
            # hold the drain until its timeout, so drop them first (the widget returns).
            await self.endpoint.close_all()

        app.add_routes([web.get("/", status)])
        app.on_shutdown.append(close_connections)
        return app

    def root_routes(self) -> Sequence[web.AbstractRouteDef]:
        path = self.options.socketio_path
        handle = self.endpoint.handle
        return [web.get(path, handle), web.post(path, handle), web.options(path, handle)]

    async def start(self) -> None:
        missing = [t for t in self.ctx.tenants() if t not in self.options.tenants]
        if missing:
            # They list the channel but allow no origin: every widget would be refused.
            self.ctx.log.warning("socketio.tenants_without_origins", tenants=missing)
        self.ctx.set_health(Health.CONNECTED)

    async def stop(self) -> None:
        await self.endpoint.close_all()
        await self.endpoint.sio.shutdown()

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        await self.endpoint.deliver(conversation.channel_key, conversation.id, message)
