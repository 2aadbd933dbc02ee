"""Middlewares for the daemon's whole HTTP application.

Mount order (the first middleware is the outermost):

    web.Application(middlewares=[error_middleware, draining_middleware(view)])

`error_middleware` must be outermost so that the 503 raised by the draining middleware,
and every error raised by a route (including the adapters' sub-applications), leaves the
daemon as JSON.

Error bodies are `{"error": <slug>, "detail": <text>}`, the shape of the adapters' own
routes (`handover.sdk.http.error_body`). Handlers that want a specific slug raise
`json_error(...)`; a bare `web.HTTPNotFound()` and the like are rewritten by
`error_middleware` to `{"error": "not_found", "detail": "Not Found"}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Protocol

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from handover import metrics
from handover.sdk.http import error_body
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
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.HTTPException:
    """An HTTP exception of `exc_class` with the body `{"error": error, "detail": detail}`
    (the status phrase when no detail is given).

    Raise the result. `exc_class` must take keyword arguments only (HTTPBadRequest,
    HTTPNotFound, ...): the classes with positional arguments (405, 413, redirects) are
    built where they are needed.
    """
    if detail is None:
        detail = _phrase(exc_class.status_code)
    return exc_class(
        headers=headers,
        text=_json(error, detail),
        content_type=_JSON_TYPE,
    )


def _json(error: str, detail: str) -> str:
    return json.dumps(error_body(error, detail), ensure_ascii=False)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a non-standard status code
        return "Error"


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
            exc.text = _json(slug, exc.reason)
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
            error_body("store_unavailable", "the store is unavailable; try again shortly"),
            status=503,
            headers={hdrs.RETRY_AFTER: RETRY_AFTER_SECONDS},
        )
    except Exception:
        # request.path, not path_qs: a query string may carry a token or an identifier.
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        return web.json_response(
            error_body("internal", "the request failed; see the daemon's log"), status=500
        )


async def drop_server_banner(_request: web.Request, response: web.StreamResponse) -> None:
    """An `on_response_prepare` hook: send no `Server` header.

    aiohttp announces `Python/3.x aiohttp/3.y` on every answer, which tells a scanner
    which known weaknesses to try; nothing a client needs depends on it.
    """
    response.headers.popall(hdrs.SERVER, None)


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
                "this instance is shutting down; try again",
                headers={hdrs.CONNECTION: "close", hdrs.RETRY_AFTER: RETRY_AFTER_SECONDS},
            )
            exc.force_close()
            raise exc
        return await handler(request)

    return middleware


__all__ = [
    "DRAIN_EXEMPT_PATHS",
    "DrainFlag",
    "draining_middleware",
    "drop_server_banner",
    "error_middleware",
    "json_error",
]
