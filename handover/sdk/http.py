"""JSON-over-HTTP helpers for adapters' own routes: errors, capped bodies, fields.

Errors are JSON `{"error": <code>, "detail": <text>}`. Adapters use these instead of
each writing their own, so every citizen- and agent-facing route refuses bad input the
same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

MAX_BODY_BYTES = 64 * 1024
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
    except RecursionError:  # `[[[[...` within the byte cap nests deeper than json can
        raise ApiError(400, "invalid_json", "the body nests too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


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
