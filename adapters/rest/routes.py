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
import json
import math
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from handover import events as ev
from handover.contracts import AdapterContext
from handover.model import Content, Conversation, Party, TranscriptEntry
from handover.router import UnknownConversation, UnknownTenant

if TYPE_CHECKING:
    from adapters.rest.adapter import RestOptions

MAX_BODY_BYTES = 64 * 1024
MAX_ID_LENGTH = 100
MAX_PAYLOAD_LENGTH = 1000
MAX_CONTEXT_VALUE_LENGTH = 2048
CONTEXT_KEYS = ("url", "title", "referrer")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
N = TypeVar("N", int, float)


class ApiError(Exception):
    """A refusal to answer as `{"error", "detail"}` with an HTTP status."""

    def __init__(
        self, status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return web.json_response(
            {"error": self.error, "detail": self.detail}, status=self.status, headers=self.headers
        )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer refusals and aiohttp's own 4xx (no route, wrong method) as JSON."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        code = exc.reason.lower().replace(" ", "_")
        return ApiError(exc.status, code, exc.reason, headers).response()


class Wakeups:
    """The long-polling requests per conversation, to be woken by `deliver()`.

    Only conversations someone is waiting on have an entry (a set of futures), so an
    idle conversation costs nothing here.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._closed = False

    @contextlib.contextmanager
    def watch(self, key: str) -> Iterator[asyncio.Future[None]]:
        """A future resolved at the next `wake(key)`. Watch *before* reading the state
        the wait depends on, so a wake-up between the read and the wait is not lost."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_result(None)
        waiters = self._waiting.setdefault(key, set())
        waiters.add(future)
        try:
            yield future
        finally:
            waiters.discard(future)
            if not waiters and self._waiting.get(key) is waiters:
                del self._waiting[key]

    def wake(self, key: str) -> None:
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """Release every waiter now and later ones at once (shutdown must not wait for
        long-polls to time out)."""
        self._closed = True
        for key in list(self._waiting):
            self.wake(key)

    def watched(self) -> int:
        """How many conversations have a waiting request."""
        return len(self._waiting)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, read with a byte cap (the daemon's own limit
    applies only to `request.read()`, and a sub-application's `client_max_size` is
    ignored for mounted routes)."""
    too_large = ApiError(413, "body_too_large", f"the body may be at most {MAX_BODY_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_chunked(16384):
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    if not body.strip():
        raise ApiError(400, "invalid_json", "the body is empty; send a JSON object")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except ValueError:  # not UTF-8 (UnicodeDecodeError)
        raise ApiError(400, "invalid_json", "the body is not UTF-8 encoded JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class _Fields:
    """Reads the fields of one JSON object, refusing unknown ones up front."""

    data: Mapping[str, Any]
    where: str = ""

    @classmethod
    def of(cls, data: Any, allowed: tuple[str, ...], where: str = "") -> _Fields:
        if not isinstance(data, Mapping):
            raise ApiError(400, "invalid_field", f"{where.rstrip('.') or 'body'} must be an object")
        unknown = sorted(where + k for k in data if k not in allowed)
        if unknown:
            raise ApiError(
                400, "unknown_field",
                f"unknown field(s): {', '.join(unknown)}; allowed: "
                f"{', '.join(where + k for k in allowed)}",
            )
        return cls(data, where)

    def string(
        self, key: str, *, required: bool = False, max_length: int | None = MAX_ID_LENGTH,
        allow_empty: bool = False,
    ) -> str | None:
        value = self.data.get(key)
        name = self.where + key
        if value is None:
            if required:
                raise ApiError(400, "missing_field", f"{name} is required")
            return None
        if not isinstance(value, str):
            raise ApiError(400, "invalid_field", f"{name} must be a string")
        if not allow_empty and not value.strip():
            raise ApiError(400, "invalid_field", f"{name} must not be empty")
        if max_length is not None and len(value) > max_length:
            raise ApiError(400, "invalid_field", f"{name} may be at most {max_length} characters")
        return value

    def require(self, key: str, *, max_length: int | None = MAX_ID_LENGTH) -> str:
        value = self.string(key, required=True, max_length=max_length)
        assert value is not None  # required=True refused a missing value
        return value

    def ident(self, key: str, *, required: bool = False) -> str | None:
        """A client-generated id (it becomes a dedup key): 1-100 printable characters."""
        value = self.string(key, required=required)
        if value is not None and (not value.isprintable() or value != value.strip()):
            raise ApiError(400, "invalid_field",
                           f"{self.where}{key} must be printable, without surrounding spaces")
        return value


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
        try:
            conv = await self.ctx.resolve_conversation(
                tenant, channel_key=channel_key(token), language=language, context=context
            )
        except UnknownTenant:
            raise ApiError(
                404, "unknown_tenant", f"no tenant {tenant!r} uses this channel"
            ) from None
        except Exception:
            self.ctx.log.warning("rest.create_failed", tenant=tenant, exc_info=True)
            raise _unavailable() from None
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
                # deliver() or control_changed() wakes us; the store stays the source of
                # truth, so read the transcript (and the state) again afterwards.
                await asyncio.wait([woken], timeout=wait)
                conv = await self.ctx.get_conversation(conv.id) or conv
                entries = await self.ctx.transcript(conv.id, after)
        visible = [e for e in entries if e.seq > after]
        return web.json_response(
            {
                "messages": [self._entry_json(conv, e) for e in visible],
                "state": conv.state.value,
                "agent_name": conv.agent_name,
                "last_seq": max((e.seq for e in visible), default=after),
            }
        )

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
        try:
            result = await self.ctx.ingest(event)
        except UnknownConversation:
            # Erased between the token check and now.
            raise ApiError(404, "unknown_conversation", "the conversation no longer exists") \
                from None
        except Exception:
            self.ctx.log.warning(
                "rest.ingest_failed", conversation_id=event.conversation_id,
                event_type=type(event).__name__, exc_info=True,
            )
            raise _unavailable() from None
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


def _unavailable() -> ApiError:
    return ApiError(
        503, "unavailable", "the message could not be stored; retry with the same id",
        {"Retry-After": "1"},
    )


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


def _query_value(request: web.Request, key: str, parse: Callable[[str], N], default: N) -> N:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{key} must be a number") from None
    if not math.isfinite(value) or value < 0:
        raise ApiError(400, "invalid_query", f"{key} must be a finite number >= 0")
    return value
