"""JSON-over-HTTP helpers for adapters' own routes: errors, capped bodies, fields, and
the answer to an event the store could not take.

Errors are JSON `{"error": <code>, "detail": <text>}` (`ApiError`, answered by the
`json_errors` middleware); the daemon's own routes answer in the same shape. Adapters
use these instead of each writing their own, so every citizen- and agent-facing route
refuses bad input, and answers a store outage, the same way:

- `read_capped` / `read_json`: the request body with a byte cap (413 `body_too_large`);
  `read_json` also requires `Content-Type: application/json` (415
  `unsupported_media_type`): a web page can send `text/plain` and form bodies to any
  site without the browser asking first (no CORS preflight), but not JSON;
- `ingest_or_error` / `ingest_if_known`: apply an event; an unknown conversation is a
  404 `unknown_conversation` (or None), any other failure is logged and answered 503
  `unavailable` with Retry-After (`Unavailable`): nothing was acknowledged, so the
  sender's retry loses nothing;
- `resolve_or_error`: the same for finding or opening a conversation (404
  `unknown_tenant`; 503 `storage_full` with Retry-After while the store takes no new
  conversations).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from handover.sdk.errors import StorageFull, UnknownConversation, UnknownTenant

if TYPE_CHECKING:
    from handover.sdk.contracts import AdapterContext, IngestResult
    from handover.sdk.events import Event
    from handover.sdk.model import Conversation

MAX_BODY_BYTES = 64 * 1024
#: The longest a request body may take to arrive, in seconds (then 408, connection
#: closed). aiohttp has no such deadline of its own: a client trickling a byte at a
#: time would hold its connection, and a slot of every handler waiting on it, forever.
BODY_READ_SECONDS = 30.0
MAX_ID_LENGTH = 100

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
        resp = web.json_response(
            error_body(self.error, self.detail), status=self.status, headers=self.headers
        )
        if self.headers.get("Connection", "").lower() == "close":
            resp.force_close()
        return resp


class Unavailable(ApiError):
    """503 `unavailable` with Retry-After: what was sent could not be stored now, and
    nothing was acknowledged, so the sender should send it again."""

    def __init__(
        self, detail: str = "could not be stored now; retry", retry_after: int = 1
    ) -> None:
        super().__init__(503, "unavailable", detail, {"Retry-After": str(retry_after)})


def error_body(error: str, detail: str) -> dict[str, str]:
    """The JSON body of every refusal, for answers built without raising `ApiError`."""
    return {"error": error, "detail": detail}


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


async def read_capped(
    request: web.Request, max_bytes: int = MAX_BODY_BYTES, *,
    deadline: float = BODY_READ_SECONDS,
) -> bytes:
    """The raw request body, at most `max_bytes` (413 `body_too_large` beyond), within
    `deadline` seconds (408 `request_timeout` beyond, and the connection is closed).

    Content-Length is checked first, so an honest oversized request is refused before a
    byte is read; the bytes read are counted as well, because the header may be absent
    (chunked) or lie. The daemon's own limit applies only to `request.read()`, and a
    sub-application's `client_max_size` is ignored for mounted routes, hence this cap.
    Use it directly when the raw bytes are needed, e.g. to check a webhook's signature.
    """
    too_large = ApiError(413, "body_too_large", f"the body may be at most {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.content.iter_chunked(16384):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise too_large
    except TimeoutError:
        raise ApiError(408, "request_timeout",
                       f"the body did not arrive within {deadline:g} seconds",
                       {"Connection": "close"}) from None
    return bytes(body)


def require_json_type(request: web.Request) -> None:
    """415 `unsupported_media_type` unless the body is declared `application/json`.

    A browser sends `text/plain`, `application/x-www-form-urlencoded` and
    `multipart/form-data` bodies to any site without a CORS preflight, so a page on
    another site could make its visitors post to a JSON endpoint that parsed those too;
    `application/json` needs the preflight, which the daemon does not answer.
    Parameters (`; charset=utf-8`) are allowed.
    """
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, read with `read_capped`, declared as
    `application/json` (see `require_json_type`)."""
    require_json_type(request)
    body = await read_capped(request)
    if not body.strip():
        raise ApiError(400, "invalid_json", "the body is empty; send a JSON object")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except _NotJson as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except ValueError:  # not UTF-8 (UnicodeDecodeError)
        raise ApiError(400, "invalid_json", "the body is not UTF-8 encoded JSON") from None
    except RecursionError:  # thousands of nested brackets
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


async def ingest_if_known(
    ctx: AdapterContext, event: Event, *, log_event: str,
    detail: str = "could not be stored now; retry", retry_after: int = 1,
) -> IngestResult | None:
    """`ctx.ingest(event)`; None when the conversation is unknown (erased meanwhile).

    Any other failure is logged as `log_event` (with the conversation and event type,
    never the content) and raised as `Unavailable(detail, retry_after)`.
    """
    try:
        return await ctx.ingest(event)
    except UnknownConversation:
        return None
    except Exception:
        ctx.log.warning(log_event, conversation_id=event.conversation_id,
                        event_type=type(event).__name__, exc_info=True)
        raise Unavailable(detail, retry_after) from None


async def ingest_or_error(
    ctx: AdapterContext, event: Event, *, log_event: str,
    detail: str = "could not be stored now; retry", retry_after: int = 1,
) -> IngestResult:
    """`ingest_if_known`, answering an unknown conversation with 404
    `unknown_conversation`."""
    result = await ingest_if_known(
        ctx, event, log_event=log_event, detail=detail, retry_after=retry_after
    )
    if result is None:
        raise ApiError(404, "unknown_conversation", "the conversation no longer exists")
    return result


async def resolve_or_error(
    ctx: AdapterContext, tenant: str, channel_key: str, *, log_event: str,
    language: str | None = None, context: Mapping[str, Any] | None = None,
    conversation_id: str | None = None,
    detail: str = "could not be stored now; retry", retry_after: int = 1,
) -> Conversation:
    """`ctx.resolve_conversation(...)`: 404 `unknown_tenant` for a tenant that is not
    configured; 503 `storage_full` (with the store's Retry-After) while the store takes
    no new conversations; any other failure logged as `log_event` and raised as
    `Unavailable`."""
    try:
        return await ctx.resolve_conversation(
            tenant, channel_key=channel_key, language=language,
            context=context, conversation_id=conversation_id,
        )
    except UnknownTenant:
        raise ApiError(404, "unknown_tenant", f"no tenant {tenant!r} uses this channel") \
            from None
    except StorageFull as exc:
        raise ApiError(
            503, "storage_full", "no new conversations can be started now; try again later",
            {"Retry-After": str(exc.retry_after)},
        ) from None
    except Exception:
        ctx.log.warning(log_event, tenant=tenant, exc_info=True)
        raise Unavailable(detail, retry_after) from None


class _NotJson(ValueError):
    """A value Python's parser takes but JSON does not have."""


def loads(raw: bytes | str) -> Any:
    """`json.loads` for what arrives from outside (bodies, frames, tokens).

    Raises ValueError for anything that is not plain JSON: bad syntax, bytes that are not
    UTF-8, NaN or Infinity, and nesting deeper than the parser recurses (`[[[[...`,
    a RecursionError from `json` otherwise, which a route would answer with a 500)."""
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise _NotJson("nested too deeply") from None


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them by default.
    raise _NotJson(f"{name} is not a JSON value")


@dataclass(frozen=True, slots=True)
class Fields:
    """Reads the fields of one JSON object, refusing unknown ones up front."""

    data: Mapping[str, Any]
    where: str = ""

    @classmethod
    def of(cls, data: Any, allowed: tuple[str, ...], where: str = "") -> Fields:
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

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            raise ApiError(400, "invalid_field", f"{self.where}{key} must be true or false")
        return value


_MAX_QUERY_NUMBER = 2**63 - 1


def query_value(
    request: web.Request, key: str, parse: Callable[[str], N], default: N
) -> N:
    """A non-negative finite number from the query string, or `default` when absent."""
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{key} must be a number") from None
    # An int beyond the store's integers (SQLite, PostgreSQL BIGINT) fails there, or
    # already in isfinite (OverflowError): refuse it here instead.
    if value > _MAX_QUERY_NUMBER:
        raise ApiError(400, "invalid_query", f"{key} is too large")
    if not math.isfinite(value) or value < 0:
        raise ApiError(400, "invalid_query", f"{key} must be a finite number >= 0")
    return value
