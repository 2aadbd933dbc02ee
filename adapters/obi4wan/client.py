"""The HTTP calls to OBI4wan: the custom-channel ingest and the availability check.

Every call goes through the adapter's circuit breaker and ends in one of the delivery
error classes the outbox worker understands:

- the connection could not be made (nothing was sent): `DeskDown` (transient);
- a timeout or a dropped connection after the request went out: the desk may have
  processed it, `DeskDownAmbiguous`; safe to repeat because every post carries its
  stable `messageId` (see `Obi4wanDesk.resend_safe`);
- 5xx/408: transient (Retry-After honoured); 429: transient with Retry-After, but it
  proves the desk alive, so it does not count towards opening the circuit;
- 401/403: `AuthError`; other 4xx: `PermanentError`;
- the circuit is open: transient with the circuit's own retry-after, nothing is sent.

The channel token travels in the query string, so no URL leaves this module unredacted:
errors carry the operation and status only, and logs use `redact_url`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from prometheus_client import Counter

from adapters.obi4wan import wire
from handover.sdk import metrics
from handover.sdk.circuit import CircuitBreaker, CircuitOpenError
from handover.sdk.contracts import Availability
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
)
from handover.sdk.logs import redact_url
from handover.sdk.retry import parse_retry_after

REQUESTS = Counter(
    "handover_obi4wan_requests_total",
    "Calls to OBI4wan by operation (ingest, availability) and result (ok, duplicate, "
    "auth, rate_limited, server_error, rejected, timeout, connect_error, circuit_open, "
    "invalid_answer).",
    ["adapter", "operation", "result"],
    registry=metrics.REGISTRY,
)

MAX_ANSWER_BYTES = 64 * 1024


class DeskDown(TransientError):
    """OBI4wan did not answer (or answered 5xx): counts towards opening the circuit."""


class DeskDownAmbiguous(AmbiguousSendError):
    """The request went out but no answer came back: counts towards opening the circuit."""


def counts_as_failure(exc: BaseException) -> bool:
    """For the circuit breaker: only silence and server errors say the desk is down."""
    return isinstance(exc, DeskDown | DeskDownAmbiguous)


class Obi4wanClient:
    """Talks to one OBI4wan environment with one channel's credentials."""

    def __init__(
        self,
        *,
        adapter: str,
        session: Callable[[], aiohttp.ClientSession],
        api_url: str,
        channel_identifier: str,
        channel_token: str,
        chat_guid: str,
        timeout_seconds: float,
        breaker: CircuitBreaker,
        log: Any,
    ) -> None:
        self.adapter = adapter
        self._session = session
        self.api_url = api_url.rstrip("/")
        self.channel_identifier = channel_identifier
        self._token = channel_token
        self.chat_guid = chat_guid
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.breaker = breaker
        self.log = log

    async def post(self, post: wire.Post) -> str | None:
        """Ingest one message, note or close; returns OBI4wan's id for it, if given."""
        body = wire.ingest_body(self.channel_identifier, post)
        data = await self._call(
            "ingest", "POST", wire.INGEST_PATH, wire.ingest_params(self._token), body
        )
        return wire.ingest_receipt(data)

    async def availability(self) -> Availability:
        data = await self._call(
            "availability", "GET", wire.AVAILABILITY_PATH,
            wire.availability_params(self.chat_guid), None,
        )
        try:
            return wire.parse_availability(data)
        except wire.WireError as exc:
            REQUESTS.labels(self.adapter, "availability", "invalid_answer").inc()
            # The desk answered, just not as agreed: that is a contract problem, loud.
            self.log.warning("obi4wan.invalid_answer", operation="availability", detail=str(exc))
            raise PermanentError(f"availability: {exc}") from None

    # --- one call -------------------------------------------------------------------------

    async def _call(
        self, operation: str, method: str, path: str, params: Mapping[str, str],
        body: Mapping[str, Any] | None,
    ) -> Any:
        url = self.api_url + path
        try:
            with self.breaker.guard():
                return await self._request(operation, method, url, params, body)
        except CircuitOpenError as exc:
            REQUESTS.labels(self.adapter, operation, "circuit_open").inc()
            raise TransientError(f"{operation}: {exc}", retry_after=exc.retry_after) from None

    async def _request(
        self, operation: str, method: str, url: str, params: Mapping[str, str],
        body: Mapping[str, Any] | None,
    ) -> Any:
        sent = False
        try:
            async with self._session().request(
                method, url, params=params, json=body, timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                sent = True
                status = resp.status
                raw = await resp.content.read(MAX_ANSWER_BYTES)
                retry_after = parse_retry_after(resp.headers.get(wire.RETRY_AFTER_HEADER))
        except aiohttp.ClientConnectorError:
            # No connection was made: nothing reached OBI4wan.
            self._failed(operation, "connect_error", url)
            raise DeskDown(f"{operation}: cannot connect to OBI4wan") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            result = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
            self._failed(operation, result, url)
            what = f"{operation}: {'no answer in time' if result == 'timeout' else 'answer lost'}"
            if method == "GET":
                raise DeskDown(what) from None
            raise DeskDownAmbiguous(what + (" (answer partly read)" if sent else "")) from None
        return self._answer(operation, url, status, raw, retry_after)

    def _answer(
        self, operation: str, url: str, status: int, raw: bytes, retry_after: float | None,
    ) -> Any:
        if 200 <= status < 300 or (operation == "ingest" and status == wire.DUPLICATE_STATUS):
            result = "ok" if status < 300 else "duplicate"
            REQUESTS.labels(self.adapter, operation, result).inc()
            try:
                return json.loads(raw) if raw.strip() else None
            except ValueError:
                return None
        detail = f"{operation}: OBI4wan answered {status}{_error_code(raw)}"
        if status in wire.AUTH_STATUSES:
            self._failed(operation, "auth", url, status)
            raise AuthError(detail)
        if status == wire.RATE_LIMIT_STATUS:
            self._failed(operation, "rate_limited", url, status)
            raise TransientError(detail, retry_after=retry_after)
        if status in wire.RETRYABLE_STATUSES or status >= 500:
            self._failed(operation, "server_error", url, status)
            raise DeskDown(detail, retry_after=retry_after)
        self._failed(operation, "rejected", url, status)
        raise PermanentError(detail)

    def _failed(self, operation: str, result: str, url: str, status: int | None = None) -> None:
        REQUESTS.labels(self.adapter, operation, result).inc()
        self.log.info(
            "obi4wan.request_failed", operation=operation, result=result, status=status,
            url=redact_url(url),
        )


def _error_code(raw: bytes) -> str:
    """A short error code from the answer, if it has one (never the whole body: it may
    quote what we sent)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code.isprintable() and len(code) <= 64:
        return f" ({code})"
    return ""


__all__ = ["DeskDown", "DeskDownAmbiguous", "Obi4wanClient", "counts_as_failure"]

