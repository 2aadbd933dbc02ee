"""The socket.io endpoint: HTTP checks, then the widget's events.

Order of checks, cheapest first. Every engine.io request (long-poll or websocket
upgrade) must name a tenant of this instance (`?tenant=`, optional when the instance
serves one tenant), and the request opening an engine.io session must come from one of
the tenant's exact origins: HTTP 404/403, nothing is opened. A new engine.io session
also counts against the address's connection rate (HTTP 429). After that every event
counts against the address's event budget (a flood drops the connection) and citizen
messages against the session's budget (refused, nothing stored).

Every request must carry an allowed Origin (the widget runs on another site, so the
browser always sends one); a citizen message must name the session id the connection
asked for, so an engine.io `sid` alone (it travels in URLs) opens nothing.

Delivery with several instances: a connection bound to a known conversation holds the
conversation's connection lease, so the outbox hands its items to this instance. A
delivery for a session with no live connection here fails as transient: the outbox
keeps it until the widget is connected to some instance, which then emits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import uuid
from collections.abc import Mapping
from typing import Any

import socketio
from aiohttp import hdrs, web
from multidict import CIMultiDict

from adapters.socketio import wire
from adapters.socketio.metrics import REFUSED, REPLAYED
from adapters.socketio.options import SocketIOOptions
from adapters.socketio.sessions import Connection, Session, SessionRegistry, channel_key
from handover.sdk import events as ev
from handover.sdk import metrics
from handover.sdk.contracts import AdapterContext, OutboundMessage
from handover.sdk.errors import TransientError, UnknownConversation, UnknownTenant
from handover.sdk.http import error_body
from handover.sdk.model import Party
from handover.sdk.ratelimit import RateLimiter

#: What the citizen reads when the widget sent something the daemon refused; the
#: widget has no error display of its own, so the refusal comes as a message.
NOTICES = {
    "nl": {
        "text_too_long": "Uw bericht is te lang (maximaal {limit} tekens). Maak het korter "
                         "en stuur het opnieuw.",
        "rate_limited": "U stuurt veel berichten kort na elkaar. Wacht even en stuur uw "
                        "bericht dan opnieuw.",
        "unavailable": "Uw bericht kon niet worden opgeslagen. Stuur het opnieuw.",
    },
    "en": {
        "text_too_long": "Your message is too long (at most {limit} characters). Shorten it "
                         "and send it again.",
        "rate_limited": "You are sending many messages in a row. Wait a moment, then send "
                        "your message again.",
        "unavailable": "Your message could not be stored. Please send it again.",
    },
}


class SocketIOEndpoint:
    """The python-socketio server of one channel instance, and its event handlers."""

    def __init__(self, ctx: AdapterContext, channel: str, options: SocketIOOptions) -> None:
        self.ctx = ctx
        self.channel = channel
        self.options = options
        self.registry = SessionRegistry()
        self._waiting: set[asyncio.Future[Any]] = set()
        #: The tenants that use this instance and have its settings (fixed at start).
        self._served = tuple(t for t in ctx.tenants() if t in options.tenants)
        self._connections = {t: RateLimiter(o.connections_per_minute)
                             for t, o in options.tenants.items()}
        self._events = {t: RateLimiter(o.events_per_minute) for t, o in options.tenants.items()}
        self._messages = {t: RateLimiter(o.messages_per_minute)
                          for t, o in options.tenants.items()}
        #: Whether other instances share the store (and may hold this widget next);
        #: unknown is taken as shared, the safe side (see `_release_if_idle`).
        self._shared: bool = getattr(ctx, "store_shared", True)
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            # Our own checks run first (per tenant); engine.io's answers the CORS headers.
            cors_allowed_origins=options.all_origins(),
            max_http_buffer_size=options.max_packet_bytes,
            # No compression on the citizen's connection (no CRIME/BREACH-style leaks).
            http_compression=False,
            # One client's events run in order: two quick messages keep their order.
            async_handlers=False,
            namespaces=[options.namespace],
            transports=list(options.transports),
        )
        ns = options.namespace
        self.sio.on("connect", self._connect, namespace=ns)
        self.sio.on("disconnect", self._disconnect, namespace=ns)
        self.sio.on("session_request", self._session_request, namespace=ns)
        self.sio.on(options.user_message_evt, self._user_uttered, namespace=ns)
        self.sio.on("*", self._other_event, namespace=ns)

    def _now(self) -> float:
        return self.ctx.clock.now().timestamp()

    # --- HTTP ---------------------------------------------------------------------------

    def _tenant_of(self, query: Mapping[str, str]) -> str | None:
        served = self._served
        tenant = query.get("tenant")
        if tenant is None and len(served) == 1:
            return served[0]
        return tenant if tenant in served else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        tenant_id = self._tenant_of(request.query)
        if tenant_id is None:
            metrics.HTTP_REJECTED.labels("socketio_tenant").inc()
            raise web.HTTPNotFound(text="unknown tenant")
        tenant = self.options.tenants[tenant_id]
        opening = "sid" not in request.query
        origin = request.headers.get(hdrs.ORIGIN)
        # Every request must come from an allowed page. The widget is embedded on the
        # municipality's site and talks to the daemon cross-origin, so the browser sends
        # Origin with each long-poll and the websocket upgrade; a request without one is
        # not the widget (a leaked `sid` replayed by a script, for instance).
        if origin not in tenant.origins:
            # Exact match only: a look-alike host or another scheme is another site.
            self.ctx.log.info("socketio.origin_refused", tenant=tenant_id)
            metrics.HTTP_REJECTED.labels("socketio_origin").inc()
            raise web.HTTPForbidden(text="origin not allowed")
        address = request.remote or "?"
        if opening and (
            self.registry.count_from(address) >= self.options.connections_per_address
            or not self._connections[tenant_id].allow(address, self._now())
        ):
            metrics.HTTP_REJECTED.labels("socketio_rate").inc()
            raise web.HTTPTooManyRequests(text="too many connections",
                                          headers={"Retry-After": "10"})
        if hdrs.SEC_WEBSOCKET_EXTENSIONS in request.headers:
            # Refuse permessage-deflate: aiohttp would agree to it otherwise.
            headers = CIMultiDict(request.headers)
            del headers[hdrs.SEC_WEBSOCKET_EXTENSIONS]
            request = request.clone(headers=headers)
        if request.method != hdrs.METH_GET or hdrs.UPGRADE in request.headers:
            response: web.StreamResponse = await self.sio.handle_request(request)
            return response
        # A long-poll GET waits up to engine.io's ping timeout (45 s) even after its
        # session closed: run it as a task the drain can cancel (it answers 503 then).
        answer: asyncio.Future[web.StreamResponse] = asyncio.get_running_loop().create_future()
        task = self.ctx.spawn(self._long_poll(request, answer), "long_poll")
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)
        try:
            return await answer
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                task.cancel()
                raise  # the handler itself was cancelled
            raise web.HTTPServiceUnavailable(text="shutting down") from None

    async def _long_poll(
        self, request: web.Request, answer: asyncio.Future[web.StreamResponse]
    ) -> None:
        try:
            response = await self.sio.handle_request(request)
        except asyncio.CancelledError:
            answer.cancel()
            raise
        except Exception as exc:
            if not answer.done():
                answer.set_exception(exc)
            return
        if not answer.done():
            answer.set_result(response)

    # --- connection lifecycle -------------------------------------------------------------

    async def _connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        request: web.Request = environ["aiohttp.request"]
        tenant = self._tenant_of(request.query)
        if tenant is None:  # checked per request already; a tenant removed meanwhile
            raise socketio.exceptions.ConnectionRefusedError("unknown tenant")
        address = request.remote or "?"
        # Checked at the handshake too; here it also holds for handshakes that raced.
        if self.registry.count_from(address) >= self.options.connections_per_address:
            REFUSED.labels(self.channel, "address_cap").inc()
            raise socketio.exceptions.ConnectionRefusedError("too many connections")
        self.registry.connect(sid, tenant, address)
        metrics.WEBSOCKET_CONNECTIONS.labels(self.channel).inc()

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        if self.registry.connection(sid) is not None:
            metrics.WEBSOCKET_CONNECTIONS.labels(self.channel).dec()
        session = self.registry.disconnect(sid)
        if session is not None:
            await self._release_if_idle(session)

    async def _hold(self, session: Session) -> None:
        """Take the conversation's connection lease while a connection here holds the
        session: deliveries for it then come to this instance."""
        if session.leased or not session.sids or session.conversation_id is None:
            return
        session.leased = True
        await self.ctx.hold_connection(session.conversation_id)

    async def _release_if_idle(self, session: Session) -> None:
        if session.sids or not session.leased or session.conversation_id is None:
            return
        session.leased = False
        if self._shared:
            # Another instance may hold the widget next and emit to it; what this one
            # remembers having sent would then be out of date.
            session.sent_seq = None
        await self.ctx.release_connection(session.conversation_id)

    async def close_all(self) -> None:
        """The daemon drains: drop every connection (the widget reconnects later)."""
        sids = self.registry.sids()
        if sids:
            # Bounded: engine.io waits for a dead peer's queue to drain.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.gather(
                        *(self.sio.disconnect(sid, namespace=self.options.namespace)
                          for sid in sids),
                        return_exceptions=True,
                    )
        # A pending long-poll would hold the shutdown until engine.io's ping timeout.
        for task in list(self._waiting):
            task.cancel()

    async def _flooding(self, conn: Connection) -> bool:
        """Count one event; True (and the connection dropped) when the address floods."""
        if self._events[conn.tenant].allow(conn.address, self._now()):
            return False
        REFUSED.labels(self.channel, "event_flood").inc()
        self.ctx.log.info("socketio.flood_dropped", tenant=conn.tenant)
        await self.sio.disconnect(conn.sid, namespace=self.options.namespace)
        return True

    async def _other_event(self, event: str, sid: str, *data: Any) -> None:
        conn = self.registry.connection(sid)
        if conn is not None and not await self._flooding(conn):
            REFUSED.labels(self.channel, "invalid_event").inc()

    # --- session_request / session_confirm -------------------------------------------------

    async def _session_request(self, sid: str, data: Any = None) -> None:
        conn = self.registry.connection(sid)
        if conn is None or await self._flooding(conn):
            return
        try:
            asked = wire.parse_session_request(data)
        except wire.WireError:
            REFUSED.labels(self.channel, "invalid_event").inc()
            asked = None
        # Without persistence every connection is a new conversation (Rasa's default);
        # an unusable or missing id gets a new one, and the widget starts afresh.
        session_id = asked if asked and self.options.session_persistence else (
            wire.new_session_id())
        session = await self._bind(conn, session_id)
        async with session.lock:
            await self.sio.emit("session_confirm", session_id, to=sid,
                                namespace=self.options.namespace)
            if asked is not None and session.conversation_id is not None:
                await self._hold(session)
                if session.sent_seq is not None:
                    await self._replay(session, session.conversation_id, session.sent_seq,
                                       to=sid)

    async def _bind(self, conn: Connection, session_id: str) -> Session:
        """Attach the connection to a session, releasing the lease of the one it left."""
        left = conn.session
        session = self.registry.bind(conn, channel_key(session_id))
        conn.session_id = session_id
        if left is not None and left is not session:
            await self._release_if_idle(left)
        return session

    async def _replay(self, session: Session, conversation_id: str, after: int,
                      to: str | None) -> None:
        """Emit what the session missed since this instance last emitted to it (caller
        holds the lock): quicker than waiting for the outbox's next retry of the held
        items, which are then skipped as sent. The citizen's own entries are skipped:
        the widget shows those itself."""
        try:
            entries = await self.ctx.transcript(conversation_id, after)
        except Exception:
            self.ctx.log.warning("socketio.replay_failed", conversation_id=conversation_id,
                                 exc_info=True)
            return
        replayed = 0
        for entry in entries:
            if entry.seq <= after:
                continue
            if entry.party is not Party.CITIZEN:
                await self._emit_message(session, wire.entry_message(entry), to)
                replayed += 1
            session.sent_seq = entry.seq
        REPLAYED.labels(self.channel).inc(replayed)

    # --- delivery ----------------------------------------------------------------------------

    async def deliver(self, key: str, conversation_id: str, message: OutboundMessage) -> None:
        """Emit to the connections holding the session here; with none, raise
        TransientError so the outbox keeps the message for the instance that will hold
        the widget's connection (here after a reconnect, or another instance)."""
        session = self.registry.session(key)
        if session is None or not session.sids:
            raise TransientError("the widget has no live connection on this instance")
        session.conversation_id = conversation_id
        async with session.lock:
            await self._hold(session)
            if session.sent_seq is not None and message.seq <= session.sent_seq:
                return  # replayed already
            await self._emit_message(session, message, None)
            session.sent_seq = message.seq

    async def _emit_message(self, session: Session, message: OutboundMessage,
                            to: str | None) -> None:
        if message.content.buttons:
            session.offered = {b.payload: b.title for b in message.content.buttons}
        for payload in wire.bot_uttered(message, self.options.agent_name_prefix):
            for sid in ([to] if to else list(session.sids)):
                await self.sio.emit(self.options.bot_message_evt, payload, to=sid,
                                    namespace=self.options.namespace)

    # --- user_uttered -------------------------------------------------------------------------

    async def _user_uttered(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Store one citizen message. The return value is the socket.io ack (for clients
        that ask for one): `{"outcome": ...}` once stored, or `{"error", "detail"}`."""
        conn = self.registry.connection(sid)
        if conn is None or await self._flooding(conn):
            return error_body("rate_limited", "too many events")
        language = _language(data)
        try:
            said = wire.parse_user_uttered(data, self.options.max_text_length)
        except wire.WireError as exc:
            # rasa-webchat without an initPayload sends one message without `message`
            # on every new session: not worth counting as a refusal.
            if exc.code != "missing_field":
                REFUSED.labels(self.channel, "invalid_event").inc()
            if exc.code == "text_too_long":
                await self._notice(sid, language, exc.code)
            return error_body(exc.code, exc.detail)
        session = conn.session
        if said.session_id is None or conn.session_id is None:
            # The session id binds the message to the session the connection asked for:
            # whoever knows only the engine.io `sid` (it travels in URLs) cannot speak
            # in this chat. rasa-webchat sends it with every message.
            REFUSED.labels(self.channel, "no_session").inc()
            return error_body("no_session", "send session_request first, then the "
                              "session_id with every message")
        if session is None or not hmac.compare_digest(said.session_id, conn.session_id):
            REFUSED.labels(self.channel, "no_session").inc()
            return error_body("invalid_field", "session_id differs from this connection's")
        if said.tenant is not None and said.tenant != conn.tenant:
            REFUSED.labels(self.channel, "tenant_mismatch").inc()
            return error_body("invalid_field", "customData.tenant is not the tenant of this socket")
        if not self._messages[conn.tenant].allow(session.key, self._now()):
            REFUSED.labels(self.channel, "message_rate").inc()
            await self._notice(sid, language, "rate_limited")
            return error_body("rate_limited", "too many messages; wait a moment and send it again")
        try:
            result = await self._ingest(conn, session, said)
        except UnknownConversation:
            return error_body("no_session", "the conversation no longer exists")
        except Exception:
            REFUSED.labels(self.channel, "unavailable").inc()
            self.ctx.log.warning("socketio.ingest_failed", tenant=conn.tenant, exc_info=True)
            await self._notice(sid, language, "unavailable")
            return error_body("unavailable", "the message could not be stored; send it again")
        return {"outcome": result}

    async def _ingest(self, conn: Connection, session: Session, said: wire.UserUttered) -> str:
        try:
            conv = await self.ctx.resolve_conversation(
                conn.tenant, channel_key=session.key, language=said.language,
                context=said.context,
            )
        except UnknownTenant:
            raise UnknownConversation(conn.tenant) from None
        if conv.tenant != conn.tenant:
            raise UnknownConversation(conv.id)
        if session.conversation_id is None:
            # First contact since this instance started. What the widget has not been
            # shown is still in the outbox (see `deliver`), so nothing is skipped here.
            self.ctx.log.info("socketio.session_bound", conversation_id=conv.id,
                              tenant=conn.tenant)
            session.conversation_id = conv.id
        await self._hold(session)
        content, payload = wire.citizen_content(said.text, session.offered)
        # Widget ids are unique per session only; the inbox key is global.
        source_id = f"m:{conv.id}:{said.message_id or uuid.uuid4().hex}"
        result = await self.ctx.ingest(ev.CitizenMessage(
            conversation_id=conv.id, source=self.channel, source_id=source_id,
            content=content, payload=payload, context=dict(said.context),
        ))
        self.ctx.log.debug("socketio.message_ingested", conversation_id=conv.id,
                           outcome=result.outcome.value)
        return result.outcome.value

    async def _notice(self, sid: str, language: str, code: str) -> None:
        texts = NOTICES.get(language, NOTICES["nl"])
        text = texts[code].format(limit=self.options.max_text_length)
        await self.sio.emit(self.options.bot_message_evt, wire.notice(text), to=sid,
                            namespace=self.options.namespace)


def _language(data: Any) -> str:
    custom = data.get("customData") if isinstance(data, Mapping) else None
    lang = custom.get("language") if isinstance(custom, Mapping) else None
    return lang if isinstance(lang, str) and lang in NOTICES else "nl"
