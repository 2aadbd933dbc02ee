"""The agent side: OBI4wan's signed webhook, mounted at `/<instance name>/webhook`.

Answers, and why (OBI4wan is assumed to retry on anything but 2xx):

- 401 `bad_signature` / `stale_timestamp`: not signed with a configured secret, or
  signed outside the tolerance window (a replay). Counted in
  `handover_webhook_signature_failures_total`. Nothing is read before this check.
- 400 `invalid_json` / `invalid_event`: a body that breaks the contract (after a good
  signature, so it is OBI4wan's bug or a contract change: loud in the logs).
- 413 a body over 64 KiB.
- 503 with Retry-After: the event could not be stored; OBI4wan should retry.
- 200 `{"outcome": ...}` for everything else, including events we drop on purpose:
  `applied`, `duplicate` (same eventId, or same message id, seen before), `stale` (the
  thread is no longer live: after a close, or an out-of-order event), `refused`,
  `echo` (a message we posted ourselves), `relayed` (typing), and `ignored` with a
  `reason`: `unknown_thread` (no such conversation for this desk's tenant, or an id
  that is not ours), `other_channel` (another custom channel's event), `unknown_type`.
  These are 2xx on purpose: retrying can never make them apply, and a desk that keeps
  retrying a dead event only delays the live ones. They are logged and counted in
  `handover_obi4wan_webhook_events_total` so a misconfiguration is still visible.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter

from adapters.obi4wan import wire
from adapters.obi4wan.options import Obi4wanOptions
from handover.sdk import events as ev
from handover.sdk import metrics
from handover.sdk.contracts import AdapterContext, IngestOutcome
from handover.sdk.http import ApiError, ingest_if_known, json_errors, read_capped
from handover.sdk.keys import scoped_desk_message_key
from handover.sdk.model import Content, Conversation, Party, parse_thread_id

WEBHOOK_EVENTS = Counter(
    "handover_obi4wan_webhook_events_total",
    "OBI4wan webhook events by type and what became of them.",
    ["adapter", "type", "outcome"],
    registry=metrics.REGISTRY,
)

Handler = Callable[[wire.WebhookEvent, Conversation], Awaitable[str]]


class WebhookRoutes:
    """The webhook of one adapter instance. `on_thread_event(thread)` tells the adapter
    that the agent side acted on a thread (it is no longer just waiting in the queue)."""

    def __init__(
        self,
        ctx: AdapterContext,
        options: Obi4wanOptions,
        on_thread_event: Callable[[str], None] = lambda thread: None,
    ) -> None:
        self.ctx = ctx
        self.source = ctx.name
        self.options = options
        self.on_thread_event = on_thread_event
        self._handlers: dict[wire.EventType, Handler] = {
            wire.EventType.AGENT_JOINED: self._joined,
            wire.EventType.MESSAGE_CREATED: self._message,
            wire.EventType.AGENT_TYPING: self._typing,
            wire.EventType.CLOSED: self._closed,
            wire.EventType.TRANSFERRED: self._transferred,
        }

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors])
        app.add_routes([web.post("/webhook", self.receive)])
        return app

    async def receive(self, request: web.Request) -> web.Response:
        body = await read_capped(request)
        check = wire.check_signature(
            request.headers, body, self.options.webhook_secrets, self.ctx.clock.now(),
            self.options.webhook_tolerance_seconds,
        )
        if check is not wire.SignatureCheck.OK:
            metrics.WEBHOOK_SIGNATURE_FAILURES.labels(self.source).inc()
            self.ctx.log.warning("obi4wan.webhook_refused", reason=check.value)
            if check is wire.SignatureCheck.STALE:
                raise ApiError(401, "stale_timestamp", "the signed timestamp is outside the "
                               "tolerance window")
            raise ApiError(401, "bad_signature", f"signature {check.value}")
        try:
            event = wire.parse_event(json.loads(body))
        except (ValueError, RecursionError) as exc:  # WireError, JSON, UTF-8, `[[[[...`
            self.ctx.log.warning("obi4wan.webhook_invalid", detail=str(exc)[:200])
            code = "invalid_event" if isinstance(exc, wire.WireError) else "invalid_json"
            raise ApiError(400, code, str(exc)[:200]) from None
        kind = event.type.value if event.type else "unknown"
        outcome = await self._dispatch(event)
        WEBHOOK_EVENTS.labels(self.source, kind, outcome).inc()
        if outcome.startswith("ignored:"):
            reason = outcome.partition(":")[2]
            self.ctx.log.warning("obi4wan.webhook_ignored", reason=reason,
                                 event_type=event.raw_type[:64], event_id=event.event_id)
            return web.json_response({"outcome": "ignored", "reason": reason})
        return web.json_response({"outcome": outcome})

    async def _dispatch(self, event: wire.WebhookEvent) -> str:
        if event.channel_identifier != self.options.channel_identifier:
            return "ignored:other_channel"
        if event.type is None:
            return "ignored:unknown_type"
        conv = await self._conversation(event.thread_id)
        if conv is None:
            return "ignored:unknown_thread"
        return await self._handlers[event.type](event, conv)

    async def _conversation(self, thread: str) -> Conversation | None:
        parsed = parse_thread_id(thread)
        if parsed is None:
            return None
        conv = await self.ctx.get_conversation(parsed[0])
        if conv is None or conv.tenant not in self.ctx.tenants():
            return None
        return conv

    # --- one handler per event type ---------------------------------------------------

    async def _joined(self, e: wire.WebhookEvent, conv: Conversation) -> str:
        self.on_thread_event(e.thread_id)
        return await self._ingest(ev.AgentJoined(
            conversation_id=conv.id, source=self.source, source_id=f"evt:{e.event_id}",
            thread=e.thread_id, agent_name=e.agent_name or "", agent_id=e.agent_id,
        ))

    async def _message(self, e: wire.WebhookEvent, conv: Conversation) -> str:
        if e.external_id and e.external_id.startswith(wire.MESSAGE_ID_PREFIX):
            # A message we posted, reported back before (or instead of) its id being
            # known to the core's echo suppression.
            return "echo"
        self.on_thread_event(e.thread_id)
        assert e.message_id is not None  # parse_event requires it for messages
        outcome = await self._ingest(ev.AgentMessage(
            conversation_id=conv.id,
            source=self.source,
            # The outbox worker records the ids OBI4wan gave our own posts under the
            # same key (the adapter returns them thread-scoped): an event about one of
            # them is dropped as a duplicate. Keyed on the message id rather than the
            # eventId, so a redelivery under a new eventId cannot show the same message
            # twice either; and on the thread too, since OBI4wan's message ids may be
            # unique per thread only.
            source_id=scoped_desk_message_key(e.thread_id, e.message_id),
            thread=e.thread_id,
            content=Content(text=e.text, attachments=e.attachments),
            agent_name=e.agent_name,
        ))
        if outcome == IngestOutcome.DUPLICATE.value:
            self.ctx.log.debug("obi4wan.message_duplicate", thread_id=e.thread_id,
                               event_id=e.event_id)
        return outcome

    async def _typing(self, e: wire.WebhookEvent, conv: Conversation) -> str:
        try:
            await self.ctx.relay_typing(conv.id, Party.AGENT, e.typing)
        except Exception:
            # Typing is a hint: failing to pass it on must not make OBI4wan retry.
            self.ctx.log.debug("obi4wan.typing_failed", conversation_id=conv.id, exc_info=True)
        return "relayed"

    async def _closed(self, e: wire.WebhookEvent, conv: Conversation) -> str:
        self.on_thread_event(e.thread_id)
        return await self._ingest(ev.AgentClosed(
            conversation_id=conv.id, source=self.source, source_id=f"evt:{e.event_id}",
            thread=e.thread_id, outcome=e.outcome or "resolved",
        ))

    async def _transferred(self, e: wire.WebhookEvent, conv: Conversation) -> str:
        return await self._ingest(ev.AgentTransferred(
            conversation_id=conv.id, source=self.source, source_id=f"evt:{e.event_id}",
            thread=e.thread_id, agent_name=e.agent_name, agent_id=e.agent_id,
        ))

    async def _ingest(self, event: ev.Event) -> str:
        result = await ingest_if_known(
            self.ctx, event, log_event="obi4wan.ingest_failed",
            detail="the event could not be stored; retry",
        )
        return "ignored:unknown_thread" if result is None else result.outcome.value


__all__ = ["WEBHOOK_EVENTS", "WebhookRoutes"]

