"""The web channel: the citizen's widget over a websocket, and the widget's files.

Routes under `/<instance name>/` (the README documents them and the frame protocol):

    GET /ws?tenant=ID          the widget socket (exact Origin allowlist per tenant)
    GET /config/{tenant}       the widget configuration (texts, theme, features), CORS
                               for the tenant's origins only
    GET /widget.js, /widget.css, /theme-default.css   the widget itself

The store's transcript is the source of truth: `deliver()` pushes to the sockets that
hold the conversation on this instance and stores nothing, so a delivery never fails and
a widget that was away gets the gap replayed from the transcript when it says `hello`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.web import wire
from adapters.web.options import WebOptions, parse_options
from adapters.web.session import WidgetSockets
from adapters.web.sockets import SocketRegistry
from adapters.web.wire import CloseCode
from handover.sdk.contracts import (
    AdapterContext,
    ChannelAdapter,
    ChannelCapabilities,
    ControlUpdate,
    Health,
    OutboundMessage,
)
from handover.sdk.model import Conversation, Party, State

__all__ = ["WebChannel"]

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "widget.js": "text/javascript",
    "widget.css": "text/css",
    "theme-default.css": "text/css",
}


class WebChannel(ChannelAdapter):
    """The web widget channel."""

    resend_safe = True
    #: 11 buttons: the NPS question is a 0-10 scale and must stay clickable.
    capabilities = ChannelCapabilities(
        max_buttons=11, typing=True, attachments=True, state_display=True,
    )

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options: WebOptions = config if isinstance(config, WebOptions) else WebOptions()
        self.registry = SocketRegistry()
        self.sockets = WidgetSockets(ctx, name, self.options, self.registry)
        # Read once: a few kilobytes, served often, and no file I/O on the event loop.
        self._files = {n: (STATIC / n).read_bytes() for n in STATIC_FILES}

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> WebOptions:
        return parse_options(section, path)

    def http_app(self) -> web.Application:
        app = web.Application()
        app.add_routes([
            web.get("/ws", self.sockets.handle),
            web.get("/config/{tenant}", self.widget_config),
            *(web.get(f"/{name}", self.static_file) for name in STATIC_FILES),
        ])

        async def close_sockets(_app: web.Application) -> None:
            # On shutdown aiohttp waits for running handlers; a widget socket would hold
            # the drain up until its timeout, so close them first (1001: come back later).
            await self.close_all()

        app.on_shutdown.append(close_sockets)
        return app

    async def start(self) -> None:
        missing = [t for t in self.ctx.tenants() if t not in self.options.tenants]
        if missing:
            # They list the channel but allow no origin: every widget would be refused.
            self.ctx.log.warning("web.tenants_without_origins", tenants=missing)
        # Grace periods of citizens whose hidden page closed, whichever instance saw it.
        self.ctx.spawn(self.sockets.departures.run(), "departures")
        self.ctx.set_health(Health.CONNECTED)

    async def stop(self) -> None:
        await self.close_all()

    async def close_all(self) -> None:
        """The daemon drains: tell widgets to come back (to this or another instance)."""
        # Closed by us, not by a citizen leaving: no grace period starts for them.
        self.sockets.draining = True
        for sock in self.registry.all():
            with contextlib.suppress(Exception):
                await sock.ws.close(code=CloseCode.GOING_AWAY, message=b"shutting down")

    # --- the channel contract ----------------------------------------------------------

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        for sock in self.registry.sockets(conversation.id):
            await sock.send_message(message)
        # Another tab of the conversation may be connected to another instance.
        await self.ctx.notify_peer_connections(conversation.id)

    async def control_changed(self, conversation: Conversation, update: ControlUpdate) -> None:
        self.registry.remember_state(conversation.id, update)
        frame = wire.state_frame(update)
        for sock in self.registry.sockets(conversation.id):
            await sock.send(frame)
        await self.ctx.notify_peer_connections(conversation.id)

    async def catch_up(self, conversation_id: str) -> None:
        """Another instance delivered to the conversation (or took a message for it, or
        its state changed): replay what the sockets here have not been sent yet, from
        the transcript, and show a changed state. Each socket's `sent_seq` and lock keep
        it exactly once and in order, as for a resume."""
        socks = self.registry.sockets(conversation_id)
        if not socks:
            return
        conv = await self.ctx.get_conversation(conversation_id)
        if conv is None:
            return
        entries = await self.ctx.transcript(conversation_id, min(s.sent_seq for s in socks))
        for sock in socks:
            async with sock.lock:
                await sock.replay(entries)
        shown = self.registry.last_state(conversation_id)
        if shown is not None and (shown.state, shown.agent_name) == (
                conv.state, conv.agent_name if conv.state is State.AGENT else None):
            return
        update = wire.initial_state(conv.state, conv.agent_name)
        self.registry.remember_state(conversation_id, update)
        frame = wire.state_frame(update)
        for sock in socks:
            await sock.send(frame)

    async def typing(self, conversation: Conversation, party: Party, on: bool) -> None:
        frame = wire.typing_frame(party, on)
        for sock in self.registry.sockets(conversation.id):
            await sock.send(frame)

    # --- widget files and configuration --------------------------------------------------

    async def widget_config(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        options = self.options.tenants.get(tenant)
        if options is None or tenant not in self.ctx.tenants():
            return web.json_response({"error": "unknown_tenant", "detail": "no such tenant"},
                                     status=404)
        headers = {"Cache-Control": "no-cache", "Vary": "Origin"}
        origin = request.headers.get("Origin")
        if origin is not None and origin in options.origins:
            headers["Access-Control-Allow-Origin"] = origin
        body = options.widget_config(tenant, self.options.max_text_length)
        return web.json_response(body, headers=headers)

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[-1]
        return web.Response(
            body=self._files[name],
            content_type=STATIC_FILES[name],
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
                     "Cross-Origin-Resource-Policy": "cross-origin"},
        )
