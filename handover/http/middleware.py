"""Middlewares for the daemon's whole HTTP application, and the JSON body reader.

Mount order (the first middleware is the outermost):

    web.Application(middlewares=[error_middleware, draining_middleware(view)])

`error_middleware` must be outermost so that the 503 raised by the draining middleware,
and every error raised by a route (including the adapters' sub-applications), leaves the
daemon as JSON.

Error bodies are always `{"error": <slug>}`, optionally with `"detail"`. Handlers that
want a specific slug raise `json_error(...)`; a bare `web.HTTPNotFound()` and the like
are rewritten by `error_middleware` to `{"error": "not_found", "detail": "Not Found"}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Set
from http import HTTPStatus
from typing import Any, Protocol

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from handover import metrics
from handover.store.base import StoreError

log = structlog.get_logger("handover.http")

#: Paths that stay served while the daemon drains: the orchestrator must still see the
#: process alive, see it unready, and Prometheus must be able to scrape the last numbers.
DRAIN_EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

#: Seconds a sender should wait before retrying a request we could not take.
RETRY_AFTER_SECONDS = "1"

_JSON_TYPE = "application/json"


def json_error(
    exc_class: type[web.HTTPException],
    error: str,
    detail: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.HTTPException:
    """An HTTP exception of `exc_class` with the body `{"error": error, "detail": detail}`.

    Raise the result. `exc_class` must take keyword arguments only (HTTPBadRequest,
    HTTPNotFound, ...): the classes with positional arguments (405, 413, redirects) are
    built where they are needed.
    """
    return exc_class(
        headers=headers,
        text=_error_body(error, detail),
        content_type=_JSON_TYPE,
    )


def _error_body(error: str, detail: Any = None) -> str:
    body: dict[str, Any] = {"error": error}
    if detail is not None:
        body["detail"] = detail
    return json.dumps(body, ensure_ascii=False)


def _slug(phrase: str) -> str:
    """'Method Not Allowed' -> 'method_not_allowed'."""
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_") or "error"


def _has_default_body(exc: web.HTTPException) -> bool:
    """Whether aiohttp filled in its plain-text placeholder ("404: Not Found").

    Only such exceptions are rewritten: one that carries a body of its own (an
    adapter's, or one made by `json_error`) is the route's deliberate answer.
    """
    body = exc.body
    return isinstance(body, bytes) and body == f"{exc.status}: {exc.reason}".encode()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error; never leak a traceback to the client.

    - `web.HTTPException` passes through (status and headers such as Allow or
      WWW-Authenticate are kept); when it only has aiohttp's placeholder body it is
      given `{"error": <slug of the status phrase>, "detail": <reason>}`.
    - `StoreError` becomes 503 `store_unavailable` with Retry-After: nothing was
      acknowledged to the sender, so its retry loses nothing.
    - Anything else becomes 500 `internal`, logged with the traceback but without the
      request body or headers (they may hold personal data or secrets).
    """
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and _has_default_body(exc):
            try:
                slug = _slug(HTTPStatus(exc.status).phrase)
            except ValueError:  # a non-standard status code
                slug = _slug(exc.reason)
            # Rewritten in place rather than replaced: subclasses such as 405 carry
            # headers (Allow) and constructor arguments a new instance would lose.
            exc.text = _error_body(slug, exc.reason)
            exc.content_type = _JSON_TYPE
        raise
    except StoreError as exc:
        log.warning(
            "http.store_unavailable",
            method=request.method,
            path=request.path,
            error=type(exc).__name__,
        )
        return web.json_response(
            {"error": "store_unavailable"},
            status=503,
            headers={hdrs.RETRY_AFTER: RETRY_AFTER_SECONDS},
        )
    except Exception:
        # request.path, not path_qs: a query string may carry a token or an identifier.
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        return web.json_response({"error": "internal"}, status=500)


class DrainFlag(Protocol):
    """What the draining middleware needs from the daemon (OpsView satisfies it)."""

    @property
    def draining(self) -> bool: ...


def draining_middleware(view: DrainFlag) -> Middleware:
    """A middleware refusing new work while `view.draining` is true (SIGTERM drain).

    Every request except GET/HEAD of /healthz, /readyz and /metrics gets 503
    `{"error": "draining"}` with `Connection: close`, so clients and load balancers
    reconnect elsewhere instead of reusing a keep-alive connection to this process.
    `view.draining` is read on every request: the flag flips at runtime.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if view.draining and not (
            request.method in (hdrs.METH_GET, hdrs.METH_HEAD) and request.path in DRAIN_EXEMPT_PATHS
        ):
            metrics.HTTP_REJECTED.labels("draining").inc()
            exc = json_error(
                web.HTTPServiceUnavailable,
                "draining",
                headers={hdrs.CONNECTION: "close", hdrs.RETRY_AFTER: RETRY_AFTER_SECONDS},
            )
            exc.force_close()
            raise exc
        return await handler(request)

    return middleware


# --- request bodies -----------------------------------------------------------------


def _is_json_type(content_type: str) -> bool:
    # request.content_type is already lower-cased and stripped of parameters.
    return content_type == _JSON_TYPE or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _reject(reason: str, exc: web.HTTPException) -> web.HTTPException:
    metrics.HTTP_REJECTED.labels(reason).inc()
    return exc


def _too_large(max_bytes: int, actual: int) -> web.HTTPException:
    return _reject(
        "too_large",
        web.HTTPRequestEntityTooLarge(
            max_size=max_bytes,
            actual_size=actual,
            text=_error_body("too_large", {"max_bytes": max_bytes}),
            content_type=_JSON_TYPE,
        ),
    )


async def read_body(request: web.Request, *, max_bytes: int) -> bytes:
    """The raw request body, at most `max_bytes` (413 `too_large` beyond).

    Content-Length is checked first so an honest oversized request is refused before a
    byte is read; the bytes actually read are checked second, because the header may be
    absent (chunked encoding) or lie. Reading stops one byte past the limit, so memory
    stays bounded whatever the sender does. Use this (then `parse_json_object`) when the
    raw bytes are needed too, e.g. to verify a webhook's HMAC signature.
    """
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes, declared)
    buf = bytearray()
    while len(buf) <= max_bytes:
        chunk = await request.content.read(max_bytes + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    if len(buf) > max_bytes:
        raise _too_large(max_bytes, len(buf))
    return bytes(buf)


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them by default.
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(
    raw: bytes,
    *,
    allowed: Set[str] | None = None,
    required: Set[str] = frozenset(),
) -> dict[str, Any]:
    """Parse `raw` as one JSON object and check its top-level keys.

    400 `bad_json` for malformed JSON (or not UTF-8/16/32, or nested too deep) or a value
    that is not an object; 400 `unknown_fields` (detail: the sorted extra keys) when
    `allowed` is given and other keys appear; 400 `missing_fields` (detail: the sorted
    missing keys) when a `required` key is absent. Required keys count as allowed.
    """
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and UnicodeDecodeError; RecursionError a
        # body of thousands of nested brackets.
        raise _reject("bad_json", json_error(web.HTTPBadRequest, "bad_json")) from None
    if not isinstance(data, dict):
        raise _reject(
            "bad_json",
            json_error(web.HTTPBadRequest, "bad_json", "the body must be a JSON object"),
        )
    if allowed is not None:
        unknown = sorted(set(data) - set(allowed) - set(required))
        if unknown:
            raise _reject(
                "unknown_fields", json_error(web.HTTPBadRequest, "unknown_fields", unknown)
            )
    missing = sorted(set(required) - set(data))
    if missing:
        raise _reject("missing_fields", json_error(web.HTTPBadRequest, "missing_fields", missing))
    return data


async def read_json(
    request: web.Request,
    *,
    max_bytes: int,
    allowed: Set[str] | None = None,
    required: Set[str] = frozenset(),
) -> dict[str, Any]:
    """Read and validate a JSON object body (for adapters' webhooks and the admin API).

    In order: 413 `too_large` (see `read_body`), 415 `unsupported_media_type` unless
    the Content-Type is application/json or application/*+json, then the checks of
    `parse_json_object`. The content type is checked after Content-Length but before
    reading, so a wrong request costs no body read.
    """
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes, declared)
    if not _is_json_type(request.content_type):
        raise _reject(
            "unsupported_media_type",
            json_error(web.HTTPUnsupportedMediaType, "unsupported_media_type", _JSON_TYPE),
        )
    raw = await read_body(request, max_bytes=max_bytes)
    return parse_json_object(raw, allowed=allowed, required=required)


__all__ = [
    "DRAIN_EXEMPT_PATHS",
    "DrainFlag",
    "draining_middleware",
    "error_middleware",
    "json_error",
    "parse_json_object",
    "read_body",
    "read_json",
]
