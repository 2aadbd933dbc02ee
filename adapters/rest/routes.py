"""The REST channel's HTTP API (mounted by the daemon at `/<instance name>/`).

    POST /conversations                      {"tenant", "language"?, "context"?}
         -> 201 {"conversation_id", "token", "language"}   (nothing stored yet: see
            adapters.rest.opening; the first message or action stores it)
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
or a text over `max_text_length` (`text_too_long`), 415 for a body not declared
`application/json`, 404 for an unknown tenant, 429 `rate_limited` (with Retry-After)
over a creation limit or the conversation's message budget, 503 when the store cannot
take the message (retry with the same `message_id`) or takes no new conversations
(`storage_full`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.rest.opening import (
    CreationLimits,
    Opening,
    PendingContexts,
    channel_key,
    mint,
    read_token,
)
from handover.sdk import events as ev
from handover.sdk import metrics
from handover.sdk.contracts import AdapterContext
from handover.sdk.http import ApiError, ingest_or_error, json_errors, read_json, resolve_or_error
from handover.sdk.http import Fields as _Fields
from handover.sdk.http import query_value as _query_value
from handover.sdk.longpoll import Wakeups
from handover.sdk.model import Content, Conversation, Party, State, TranscriptEntry
from handover.sdk.pagecontext import CONTEXT_KEYS, MAX_CONTEXT_VALUE_LENGTH, clean_page_context
from handover.sdk.ratelimit import RateLimiter

if TYPE_CHECKING:
    from adapters.rest.adapter import RestOptions

__all__ = ["RestRoutes", "channel_key"]

MAX_ID_LENGTH = 100
MAX_PAYLOAD_LENGTH = 1000


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
        self.pending = PendingContexts()
        self.creations = CreationLimits(
            channel, options.conversations_per_minute, options.tenant_conversations_per_minute
        )
        self.budget = RateLimiter(options.messages_per_minute)

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
        if tenant not in self.ctx.tenants():
            raise ApiError(404, "unknown_tenant", f"no tenant {tenant!r} uses this channel")
        now = self._now()
        self.creations.check_address(request.remote or "?", now)
        # Nothing is stored until the first message (see adapters.rest.opening).
        conversation_id, token = mint(tenant, language)
        self.pending.put(conversation_id, context or {}, now)
        return web.json_response(
            {"conversation_id": conversation_id, "token": token, "language": language},
            status=201,
        )

    async def post_message(self, request: web.Request) -> web.Response:
        found = await self._authorize(request)
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
        self._spend_budget(found.conversation_id if isinstance(found, Opening) else found.id)
        conv = await self._stored(request, found)
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
        found = await self._authorize(request)
        fields = _Fields.of(await read_json(request), ("action", "action_id"))
        action = fields.require("action")
        action_id = fields.ident("action_id", required=True)
        event_type = _ACTIONS.get(action)
        if event_type is None:
            raise ApiError(
                400, "invalid_field", f"action must be one of: {', '.join(sorted(_ACTIONS))}"
            )
        self._spend_budget(found.conversation_id if isinstance(found, Opening) else found.id)
        conv = await self._stored(request, found)
        return await self._ingest(
            event_type(
                conversation_id=conv.id, source=self.channel, source_id=f"a:{conv.id}:{action_id}"
            )
        )

    async def get_messages(self, request: web.Request) -> web.Response:
        found = await self._authorize(request)
        after = _query_value(request, "after", int, 0)
        wait = min(_query_value(request, "wait", float, 0.0), self.options.long_poll_seconds)
        if isinstance(found, Opening):
            return await self._not_started(found, after, wait)
        conv = found
        with self.wakeups.watch(conv.id) as woken:
            entries = await self.ctx.transcript(conv.id, after)
            if not entries and wait > 0:
                with self._poll_slot(conv.id, request.remote or "?"):
                    entries = await self._wait(conv, after, wait, woken)
                conv = await self.ctx.get_conversation(conv.id) or conv
        visible = [e for e in entries if e.seq > after]
        return self._page(conv, visible, after)

    def _page(self, conv: Conversation, visible: list[TranscriptEntry], after: int) -> web.Response:
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

    async def _authorize(self, request: web.Request) -> Conversation | Opening:
        """The conversation the bearer token opens, or the opening it allows (the
        conversation is not stored yet); 401/403 otherwise (see the module docstring)."""
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
        if conv is not None and matches:
            return conv
        if conv is None:
            opening = read_token(token, conversation_id)
            if opening is not None and opening.tenant in self.ctx.tenants():
                return opening
        raise ApiError(403, "forbidden", "this token does not open this conversation")

    def _now(self) -> float:
        return self.ctx.clock.now().timestamp()

    def _spend_budget(self, conversation_id: str) -> None:
        """429 `rate_limited` over the conversation's messages and actions per minute."""
        now = self._now()
        if not self.budget.allow(conversation_id, now):
            metrics.HTTP_REJECTED.labels("rest_message_rate").inc()
            wait = self.budget.wait_seconds(conversation_id, now)
            raise ApiError(
                429, "rate_limited", "too many messages; wait a moment and send it again",
                {"Retry-After": str(max(1, int(wait + 0.999)))},
            )

    async def _stored(self, request: web.Request, found: Conversation | Opening) -> Conversation:
        """The conversation, stored now if this is its first message or action."""
        if isinstance(found, Conversation):
            return found
        now = self._now()
        # Kept until stored: a first message refused (503, 429) may be sent again.
        context = self.pending.get(found.conversation_id, now)
        if context is None:
            # Not opened through this instance (or a token minted by the client): the
            # open's per-address limit applies here instead.
            self.creations.check_address(request.remote or "?", now)
        self.creations.check_tenant(found.tenant, now)
        token = request.headers["Authorization"].partition(" ")[2].strip()
        conv = await resolve_or_error(
            self.ctx, found.tenant, channel_key(token), language=found.language,
            context=context or None, conversation_id=found.conversation_id,
            log_event="rest.create_failed", detail=_UNAVAILABLE,
        )
        if conv.id != found.conversation_id:  # the id belongs to another identity
            raise ApiError(403, "forbidden", "this token does not open this conversation")
        self.pending.discard(found.conversation_id)
        self.ctx.log.info("rest.conversation_created", conversation_id=conv.id,
                          tenant=found.tenant)
        return conv

    async def _not_started(self, opening: Opening, after: int, wait: float) -> web.Response:
        """A poll before the first message: nothing was said yet.

        With `wait`, look every `_NOT_STARTED_CHECK_SECONDS` whether the first message
        came (through any instance); from then on it is an ordinary long-poll for the
        rest of the wait (holding the connection lease, so deliveries come here)."""
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return web.json_response(
                    {"messages": [], "state": State.BOT.value, "agent_name": None,
                     "last_seq": after}
                )
            with self.wakeups.watch(opening.conversation_id) as woken:
                await asyncio.wait([woken], timeout=min(remaining, _NOT_STARTED_CHECK_SECONDS))
            conv = await self.ctx.get_conversation(opening.conversation_id)
            if conv is not None:
                remaining = max(0.0, deadline - asyncio.get_running_loop().time())
                with self.wakeups.watch(conv.id) as woken:
                    entries = await self.ctx.transcript(conv.id, after)
                    if not entries and remaining > 0:
                        entries = await self._wait(conv, after, remaining, woken)
                        conv = await self.ctx.get_conversation(conv.id) or conv
                return self._page(conv, [e for e in entries if e.seq > after], after)

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
#: How often a poll before the first message looks whether it came meanwhile.
_NOT_STARTED_CHECK_SECONDS = 0.5


def _page_context(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    fields = _Fields.of(raw, CONTEXT_KEYS, "context.")
    out: dict[str, str] = {}
    for key in CONTEXT_KEYS:
        value = fields.string(key, max_length=MAX_CONTEXT_VALUE_LENGTH, allow_empty=True)
        if value:
            out[key] = value
    # The rule of every channel: addresses without their query string and fragment.
    return clean_page_context(out)
