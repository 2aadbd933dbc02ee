"""One widget websocket from upgrade to close: checks, `hello`, replay, then frames.

Order of checks, cheapest first: the tenant and the exact Origin before the upgrade
(HTTP 404/403, no socket is opened), the per-address connection rate (HTTP 429), then
the `hello` frame with the token. After that every frame counts against the address's
frame budget (a flood closes the socket) and messages and actions against the
conversation's budget (refused with an `error` frame, nothing stored).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass

from aiohttp import WSMessage, WSMsgType, web

from adapters.web import wire
from adapters.web.departures import Departures
from adapters.web.metrics import REFUSED, REPLAYED
from adapters.web.options import TenantOptions, WebOptions
from adapters.web.sockets import SocketRegistry, WidgetSocket
from adapters.web.wire import CloseCode, FrameError
from handover.sdk import events as ev
from handover.sdk import metrics
from handover.sdk.contracts import AdapterContext
from handover.sdk.errors import UnknownTenant
from handover.sdk.http import Unavailable, ingest_if_known
from handover.sdk.model import Content, Conversation, Party
from handover.sdk.ratelimit import RateLimiter


def channel_key(token: str) -> str:
    """What the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class _Limits:
    connections: RateLimiter
    frames: RateLimiter
    messages: RateLimiter


class Closed(Exception):
    """Close the socket with `code` (and a short reason for the client's console)."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class WidgetSockets:
    """The websocket endpoint of one web channel instance."""

    def __init__(self, ctx: AdapterContext, channel: str, options: WebOptions,
                 registry: SocketRegistry) -> None:
        self.ctx = ctx
        self.channel = channel
        self.options = options
        self.registry = registry
        self._limits = {
            tenant: _Limits(RateLimiter(t.connections_per_minute),
                            RateLimiter(t.frames_per_minute), RateLimiter(t.messages_per_minute))
            for tenant, t in options.tenants.items()
        }
        #: Sockets whose page said it is hidden (the last `visibility` frame).
        self._hidden: set[WidgetSocket] = set()
        #: Citizens whose hidden page closed, waited out on every instance.
        self.departures = Departures(ctx, channel, options.leave_grace_seconds,
                                     lambda conv_id: bool(registry.sockets(conv_id)))
        #: Open sockets per client address (`sockets_per_address`).
        self._open_from: Counter[str] = Counter()
        #: Set when the daemon drains: the sockets it closes were not closed by citizens.
        self.draining = False

    def _now(self) -> float:
        return self.ctx.clock.now().timestamp()

    def _tenant(self, tenant: str) -> TenantOptions | None:
        if tenant not in self.ctx.tenants():
            return None
        return self.options.tenants.get(tenant)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        tenant_id = request.query.get("tenant", "")
        tenant = self._tenant(tenant_id)
        if tenant is None:
            raise web.HTTPNotFound(text="unknown tenant")
        origin = request.headers.get("Origin", "")
        if origin not in tenant.origins:
            # Exact match only: a look-alike host or another scheme is another site.
            self.ctx.log.info("web.origin_refused", tenant=tenant_id)
            metrics.HTTP_REJECTED.labels("web_origin").inc()
            raise web.HTTPForbidden(text="origin not allowed")
        limits = self._limits[tenant_id]
        address = request.remote or "?"
        if (self._open_from[address] >= self.options.sockets_per_address
                or not limits.connections.allow(address, self._now())):
            metrics.HTTP_REJECTED.labels("web_rate").inc()
            raise web.HTTPTooManyRequests(
                text="too many connections", headers={"Retry-After": "10"}
            )
        ws = web.WebSocketResponse(
            compress=False,  # no compression on the citizen socket (no CRIME/BREACH-style leaks)
            max_msg_size=self.options.max_frame_bytes,
            heartbeat=self.options.heartbeat_seconds,
            autoping=True,
        )
        await ws.prepare(request)
        self._open_from[address] += 1
        gauge = metrics.WEBSOCKET_CONNECTIONS.labels(self.channel)
        gauge.inc()
        sock: WidgetSocket | None = None
        try:
            sock = await self._open(ws, tenant_id, tenant, limits, address)
            await self._serve(ws, sock, tenant, limits, address)
        except Closed as exc:
            REFUSED.labels(self.channel, _CLOSE_REASONS.get(exc.code, "other")).inc()
            await ws.close(code=exc.code, message=exc.reason.encode()[:120])
        finally:
            gauge.dec()
            self._open_from[address] -= 1
            if self._open_from[address] <= 0:
                del self._open_from[address]
            if sock is not None:
                hidden = sock in self._hidden
                self._hidden.discard(sock)
                self.registry.remove(sock)
                await self.ctx.release_connection(sock.conversation_id)
                if (hidden and not self.draining
                        and not self.registry.sockets(sock.conversation_id)):
                    await self.departures.left_hidden(sock.conversation_id)
            if not ws.closed:
                await ws.close()
        return ws

    # --- hello ----------------------------------------------------------------------

    def _text(self, ws: web.WebSocketResponse, msg: WSMessage) -> str | None:
        """A received frame's text, None when the peer closed (or the frame was too big).

        Not a coroutine around `ws.receive`: an idle socket waits in `_serve` for hours,
        and each coroutine between it and aiohttp's wait is a frame kept per socket."""
        if msg.type is WSMsgType.TEXT:
            return str(msg.data)
        if msg.type is WSMsgType.BINARY:
            raise Closed(CloseCode.PROTOCOL_ERROR, "text frames only")
        if msg.type is WSMsgType.ERROR and ws.close_code == CloseCode.MESSAGE_TOO_BIG:
            REFUSED.labels(self.channel, "oversize").inc()
        return None  # CLOSE, CLOSING, CLOSED, ERROR (aiohttp already closed with 1009)

    async def _open(self, ws: web.WebSocketResponse, tenant_id: str, tenant: TenantOptions,
                    limits: _Limits, address: str) -> WidgetSocket | None:
        try:
            raw = self._text(ws, await ws.receive(timeout=self.options.hello_timeout_seconds))
        except TimeoutError:
            raise Closed(CloseCode.HELLO_TIMEOUT, "no hello") from None
        if raw is None:
            return None
        limits.frames.allow(address, self._now())
        try:
            hello = wire.parse_hello(raw)
        except FrameError as exc:
            raise Closed(CloseCode.PROTOCOL_ERROR, exc.detail) from None
        if hello.tenant != tenant_id:
            raise Closed(CloseCode.PROTOCOL_ERROR, "the hello names another tenant than the URL")
        token: str | None = None
        try:
            if hello.token is None:
                token = secrets.token_urlsafe(32)
                context = hello.context if tenant.features.page_context else {}
                conv = await self.ctx.resolve_conversation(
                    tenant_id, channel_key=channel_key(token), language=hello.language,
                    context=context,
                )
                self.ctx.log.info("web.conversation_created", conversation_id=conv.id,
                                  tenant=tenant_id)
                last_seq = 0
            else:
                conv = await self._authorize(hello.conversation_id or "", hello.token, tenant_id)
                last_seq = hello.last_seq
        except UnknownTenant:
            raise Closed(CloseCode.UNKNOWN_TENANT, "unknown tenant") from None
        except Closed:
            raise
        except Exception:
            self.ctx.log.warning("web.open_failed", tenant=tenant_id, exc_info=True)
            raise Closed(CloseCode.UNAVAILABLE, "try again later") from None
        sock = WidgetSocket(ws, conv.id, last_seq)
        async with sock.lock:
            # Register before reading the transcript: a delivery meanwhile waits for the
            # lock and is then skipped if the replay already sent it.
            self.registry.add(sock)
            if hello.token is not None:
                await self.departures.returned(conv.id)  # back within the grace period
            # Also before the read: with several instances, deliveries for this
            # conversation come here from now on (see handover/connections.py).
            await self.ctx.hold_connection(conv.id)
            update = self.registry.last_state(conv.id)
            if update is None or update.state is not conv.state:
                update = wire.initial_state(conv.state, conv.agent_name)
                # What this socket is shown now (a peer's notice compares with it).
                self.registry.remember_state(conv.id, update)
            try:
                entries = await self.ctx.transcript(conv.id, last_seq)
            except Exception:
                self.registry.remove(sock)
                await self.ctx.release_connection(conv.id)
                self.ctx.log.warning("web.replay_failed", conversation_id=conv.id,
                                     exc_info=True)
                raise Closed(CloseCode.UNAVAILABLE, "try again later") from None
            replay = sum(1 for e in entries if e.seq > sock.sent_seq)
            await sock.send_raw(wire.welcome_frame(
                conv.id, conv.language, update, token=token, resumed=hello.token is not None,
                replay=replay,
            ))
            await sock.replay(entries)
            REPLAYED.labels(self.channel).inc(len(entries))
        return sock

    async def _authorize(self, conversation_id: str, token: str, tenant_id: str) -> Conversation:
        conv = await self.ctx.get_conversation(conversation_id)
        expected = ""
        if conv is not None and conv.channel == self.channel and conv.tenant == tenant_id:
            expected = conv.channel_key
        # Compare even when there is nothing to compare with: an unknown id, another
        # conversation's id and a forged token all take the same path and answer.
        matches = hmac.compare_digest(channel_key(token).encode(), expected.encode())
        if conv is None or not matches:
            self.ctx.log.info("web.token_refused", tenant=tenant_id)
            raise Closed(CloseCode.FORBIDDEN, "this token does not open this conversation")
        return conv

    # --- frames ---------------------------------------------------------------------

    async def _serve(self, ws: web.WebSocketResponse, sock: WidgetSocket | None,
                     tenant: TenantOptions, limits: _Limits, address: str) -> None:
        if sock is None:
            return
        while True:
            raw = self._text(ws, await ws.receive())
            if raw is None:
                return
            if not limits.frames.allow(address, self._now()):
                self.ctx.log.info("web.flood_closed", conversation_id=sock.conversation_id)
                raise Closed(CloseCode.RATE_LIMITED, "too many frames")
            try:
                frame = wire.parse_client_frame(raw, self.options.max_text_length)
            except FrameError as exc:
                if exc.code == "invalid_json":
                    raise Closed(CloseCode.PROTOCOL_ERROR, exc.detail) from None
                REFUSED.labels(self.channel, "invalid_frame").inc()
                await sock.send(wire.error_frame(exc.code, exc.detail, exc.ref))
                continue
            if isinstance(frame, wire.Ping):
                await sock.send(wire.pong_frame())
            elif isinstance(frame, wire.Visibility):
                if frame.hidden:
                    self._hidden.add(sock)
                else:
                    self._hidden.discard(sock)
            elif isinstance(frame, wire.Typing):
                if tenant.features.typing:
                    with contextlib.suppress(Exception):
                        await self.ctx.relay_typing(sock.conversation_id, Party.CITIZEN, frame.on)
            else:
                await self._ingest(sock, frame, limits)

    async def _ingest(self, sock: WidgetSocket,
                      frame: wire.MessageFrame | wire.Action, limits: _Limits) -> None:
        conv_id = sock.conversation_id
        ref_key, ref = (("message_id", frame.message_id) if isinstance(frame, wire.MessageFrame)
                        else ("action_id", frame.action_id))
        if not limits.messages.allow(conv_id, self._now()):
            REFUSED.labels(self.channel, "message_rate").inc()
            await sock.send(wire.error_frame(
                "rate_limited", "too many messages; wait a moment and send it again", ref))
            return
        event: ev.Event
        if isinstance(frame, wire.MessageFrame):
            event = ev.CitizenMessage(
                conversation_id=conv_id, source=self.channel,
                # Widget ids are unique per conversation only; the inbox key is global.
                source_id=f"m:{conv_id}:{frame.message_id}",
                content=Content(text=frame.text), payload=frame.payload,
            )
        elif frame.action == "request_agent":
            event = ev.CitizenRequestsAgent(
                conversation_id=conv_id, source=self.channel,
                source_id=f"a:{conv_id}:{frame.action_id}", context=dict(frame.context),
            )
        else:
            event = ev.CitizenLeft(conversation_id=conv_id, source=self.channel,
                                   source_id=f"a:{conv_id}:{frame.action_id}")
        try:
            result = await ingest_if_known(self.ctx, event, log_event="web.ingest_failed")
        except Unavailable:
            # Not stored: the widget keeps it and sends it again with the same id.
            await sock.send(wire.error_frame(
                "unavailable", "the message could not be stored; send it again", ref))
            return
        if result is None:
            raise Closed(CloseCode.FORBIDDEN, "the conversation no longer exists")
        self.ctx.log.debug("web.event_ingested", conversation_id=conv_id,
                           event_type=type(event).__name__, outcome=result.outcome.value)
        await sock.send(wire.ack_frame(ref_key, ref, result.outcome.value))
        if not isinstance(event, ev.CitizenMessage):
            return
        others = [s for s in self.registry.sockets(conv_id) if s is not sock]
        # The same conversation open in another tab: show it what was just written
        # here. Citizen messages are not delivered through the outbox, so read them.
        for other in others:
            async with other.lock:
                await other.replay(await self.ctx.transcript(conv_id, other.sent_seq))
        # And in a tab connected to another instance.
        await self.ctx.notify_peer_connections(conv_id)


_CLOSE_REASONS = {
    CloseCode.PROTOCOL_ERROR: "protocol",
    CloseCode.FORBIDDEN: "token",
    CloseCode.HELLO_TIMEOUT: "hello_timeout",
    CloseCode.RATE_LIMITED: "frame_flood",
    CloseCode.UNAVAILABLE: "unavailable",
    CloseCode.UNKNOWN_TENANT: "unknown_tenant",
}
