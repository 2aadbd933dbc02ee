"""The REST channel's HTTP API (mounted by the daemon at `/<instance name>/`).

    POST /conversations                      {"tenant", "language"?, "context"?}
         -> 201 {"conversation_id", "token", "language"}
    POST /conversations/{id}/messages        {"message_id", "text"?, "payload"?}
         -> 202 {"outcome"}
    POST /conversations/{id}/actions         {"action": "request_agent"|"leave", "action_id"}
         -> 202 {"outcome"}
    GET  /conversations/{id}/messages?after=N&wait=S
         -> 200 {"messages": [...], "state", "agent_name", "last_seq"}

Authentication: every call after the first sends `Authorization: Bearer <token>`. The
token is stored only as its SHA-256 (the conversation's channel key). The rule: 401 when
the header is missing or not a bearer token; 403 when a token is sent but does not open
that conversation, whether the conversation does not exist, belongs to another channel
or has another token. A caller without the right token thus never learns whether a
conversation id exists.

Errors are JSON `{"error": <code>, "detail": <text>}`: 400 for malformed JSON, unknown or
invalid fields and bad query parameters, 413 for a body over 64 KiB (`body_too_large`)
or a text over `max_text_length` (`text_too_long`), 404 for an unknown tenant, 503 when
the store cannot take the message (retry with the same `message_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext
from handover.sdk.http import ApiError, ingest_or_error, json_errors, read_json, resolve_or_error
from handover.sdk.http import Fields as _Fields
from handover.sdk.http import query_value as _query_value
from handover.sdk.longpoll import Wakeups
from handover.sdk.model import Content, Conversation, Party, TranscriptEntry

if TYPE_CHECKING:
    from adapters.rest.adapter import RestOptions

MAX_ID_LENGTH = 100
MAX_PAYLOAD_LENGTH = 1000
MAX_CONTEXT_VALUE_LENGTH = 2048
CONTEXT_KEYS = ("url", "title", "referrer")



def channel_key(token: str) -> str:
    """What the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class RestRoutes:
    """The handlers, bound to one channel instance."""

    def __init__(
        self, ctx: AdapterContext, channel: str, options: RestOptions, wakeups: Wakeups
    ) -> None:
        self.ctx = ctx
        self.channel = channel
        self.options = options
        self.wakeups = wakeups
        #: Waiting long-polls per conversation and per client address (see `_poll_slot`).
        self._polls: Counter[str] = Counter()
        self._polls_from: Counter[str] = Counter()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors])
        app.add_routes([
            web.post("/conversations", self.create_conversation),
            web.post("/conversations/{conversation_id}/messages", self.post_message),
            web.post("/conversations/{conversation_id}/actions", self.post_action),
            web.get("/conversations/{conversation_id}/messages", self.get_messages),
        ])

        async def release_pollers(_app: web.Application) -> None:
            self.wakeups.close()

        app.on_shutdown.append(release_pollers)
        return app

    # --- handlers -------------------------------------------------------------------

    async def create_conversation(self, request: web.Request) -> web.Response:
        fields = _Fields.of(await read_json(request), ("tenant", "language", "context"))
        tenant = fields.require("tenant")
        language = fields.string("language", max_length=16)
        context = _page_context(fields.data.get("context"))
        token = secrets.token_urlsafe(32)
        conv = await resolve_or_error(
            self.ctx, tenant, channel_key(token), language=language, context=context,
            log_event="rest.create_failed", detail=_UNAVAILABLE,
        )
        self.ctx.log.info("rest.conversation_created", conversation_id=conv.id, tenant=tenant)
        return web.json_response(
            {"conversation_id": conv.id, "token": token, "language": conv.language}, status=201
        )

    async def post_message(self, request: web.Request) -> web.Response:
        conv = await self._authorize(request)
        fields = _Fields.of(await read_json(request), ("message_id", "text", "payload"))
        message_id = fields.ident("message_id", required=True)
        text = fields.string("text", max_length=None, allow_empty=True) or ""
        if len(text) > self.options.max_text_length:
            raise ApiError(
                413, "text_too_long",
                f"text may be at most {self.options.max_text_length} characters",
            )
        payload = fields.string("payload", max_length=MAX_PAYLOAD_LENGTH)
        if not text.strip() and payload is None:
            raise ApiError(400, "empty_message", "send a text or a payload")
        return await self._ingest(
            ev.CitizenMessage(
                conversation_id=conv.id,
                source=self.channel,
                # Client ids are unique per conversation only; the inbox key is global.
                source_id=f"m:{conv.id}:{message_id}",
                content=Content(text=text),
                payload=payload,
            )
        )

    async def post_action(self, request: web.Request) -> web.Response:
        conv = await self._authorize(request)
        fields = _Fields.of(await read_json(request), ("action", "action_id"))
        action = fields.require("action")
        action_id = fields.ident("action_id", required=True)
        event_type = _ACTIONS.get(action)
        if event_type is None:
            raise ApiError(
                400, "invalid_field", f"action must be one of: {', '.join(sorted(_ACTIONS))}"
            )
        return await self._ingest(
            event_type(
                conversation_id=conv.id, source=self.channel, source_id=f"a:{conv.id}:{action_id}"
            )
        )

    async def get_messages(self, request: web.Request) -> web.Response:
        conv = await self._authorize(request)
        after = _query_value(request, "after", int, 0)
        wait = min(_query_value(request, "wait", float, 0.0), self.options.long_poll_seconds)
        with self.wakeups.watch(conv.id) as woken:
            entries = await self.ctx.transcript(conv.id, after)
            if not entries and wait > 0:
                with self._poll_slot(conv.id, request.remote or "?"):
                    entries = await self._wait(conv, after, wait, woken)
                conv = await self.ctx.get_conversation(conv.id) or conv
        visible = [e for e in entries if e.seq > after]
        return web.json_response(
            {
                "messages": [self._entry_json(conv, e) for e in visible],
                "state": conv.state.value,
                "agent_name": conv.agent_name,
                "last_seq": max((e.seq for e in visible), default=after),
            }
        )

    @contextlib.contextmanager
    def _poll_slot(self, conversation_id: str, address: str) -> Iterator[None]:
        """Count one waiting long-poll; 429 when the conversation or the address has its
        share already (checked before anything is held, so a refusal costs nothing)."""
        if (self._polls[conversation_id] >= self.options.long_polls_per_conversation
                or self._polls_from[address] >= self.options.long_polls_per_address):
            raise ApiError(429, "too_many_polls", "too many waiting requests; wait for an "
                           "answer before asking again", {"Retry-After": "1"})
        self._polls[conversation_id] += 1
        self._polls_from[address] += 1
        try:
            yield
        finally:
            for counts, key in ((self._polls, conversation_id), (self._polls_from, address)):
                counts[key] -= 1
                if counts[key] <= 0:
                    del counts[key]

    async def _wait(self, conv: Conversation, after: int, wait: float,
                    woken: asyncio.Future[None]) -> list[TranscriptEntry]:
        """Wait for entries after `after`, woken by deliver() or control_changed().

        While the request waits, this instance holds the conversation's connection
        lease, so with several instances the delivery comes here and wakes it. Read
        again once the lease is held: what was committed before is in the store, what
        comes after is delivered here. The store stays the source of truth, so read it
        once more after the wake-up.
        """
        await self.ctx.hold_connection(conv.id)
        try:
            entries = await self.ctx.transcript(conv.id, after)
            if not entries:
                await asyncio.wait([woken], timeout=wait)
                entries = await self.ctx.transcript(conv.id, after)
            return entries
        finally:
            await self.ctx.release_connection(conv.id)

    # --- helpers --------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> Conversation:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401, "unauthorized", "send the conversation's token as Authorization: Bearer "
                "<token>", {"WWW-Authenticate": "Bearer"},
            )
        conversation_id = request.match_info["conversation_id"]
        conv = None
        if len(conversation_id) <= MAX_ID_LENGTH:
            conv = await self.ctx.get_conversation(conversation_id)
        expected = conv.channel_key if conv is not None and conv.channel == self.channel else ""
        # Compare even when there is nothing to compare with, so an unknown id and a
        # wrong token take the same path.
        matches = hmac.compare_digest(channel_key(token).encode(), expected.encode())
        if conv is None or not matches:
            raise ApiError(403, "forbidden", "this token does not open this conversation")
        return conv

    async def _ingest(self, event: ev.Event) -> web.Response:
        # An unknown conversation here was erased between the token check and now.
        result = await ingest_or_error(
            self.ctx, event, log_event="rest.ingest_failed", detail=_UNAVAILABLE
        )
        self.ctx.log.debug(
            "rest.event_ingested", conversation_id=event.conversation_id,
            event_type=type(event).__name__, outcome=result.outcome.value,
        )
        return web.json_response({"outcome": result.outcome.value}, status=202)

    def _entry_json(self, conv: Conversation, entry: TranscriptEntry) -> dict[str, Any]:
        message_id = entry.message_id
        own_prefix = f"m:{conv.id}:"
        if entry.party is Party.CITIZEN and message_id.startswith(own_prefix):
            # Give the client back its own id, so it can match what it sent.
            message_id = message_id[len(own_prefix):]
        return {
            "seq": entry.seq,
            "message_id": message_id,
            "party": entry.party.value,
            "sender_name": entry.sender_name,
            "content": entry.content.to_json(),
            "created_at": entry.created_at.isoformat() if entry.created_at else None,
        }


_ACTIONS: dict[str, Callable[..., ev.Event]] = {
    "request_agent": ev.CitizenRequestsAgent,
    "leave": ev.CitizenLeft,
}


_UNAVAILABLE = "the message could not be stored; retry with the same id"


def _page_context(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    fields = _Fields.of(raw, CONTEXT_KEYS, "context.")
    out: dict[str, str] = {}
    for key in CONTEXT_KEYS:
        value = fields.string(key, max_length=MAX_CONTEXT_VALUE_LENGTH, allow_empty=True)
        if value:
            out[key] = value
    return out
