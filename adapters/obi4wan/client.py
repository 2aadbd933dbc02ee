"""The HTTP calls to OBI4wan: the custom-channel ingest and the availability check.

Every call goes through the adapter's circuit breaker and `handover.sdk.upstream`, and
ends in one of the delivery error classes the outbox worker understands:

- the connection could not be made (nothing was sent): `upstream.Unreachable`
  (transient);
- a timeout or a dropped connection after the request went out: the desk may have
  processed it, `upstream.AnswerLost` (a GET: `upstream.NoAnswer`); safe to repeat
  because every post carries its stable `messageId` (see `Obi4wanDesk.resend_safe`);
- 5xx/408/425: `DeskDown`, transient (Retry-After honoured); 429: transient with Retry-After, but it
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
from handover.sdk import metrics, upstream
from handover.sdk.circuit import CircuitBreaker, CircuitOpenError
from handover.sdk.contracts import Availability
from handover.sdk.errors import (
    AuthError,
    DeliveryError,
    PermanentError,
    TransientError,
)
from handover.sdk.logs import redact_url

REQUESTS = Counter(
    "handover_obi4wan_requests_total",
    "Calls to OBI4wan by operation (ingest, availability) and result (ok, duplicate, "
    "auth, rate_limited, server_error, rejected, timeout, connect_error, circuit_open, "
    "invalid_answer).",
    ["adapter", "operation", "result"],
    registry=metrics.REGISTRY,
)


class DeskDown(TransientError):
    """OBI4wan answered 5xx (or 408/425): counts towards opening the circuit."""


def counts_as_failure(exc: BaseException) -> bool:
    """For the circuit breaker: only silence and server errors say the desk is down."""
    return isinstance(
        exc, DeskDown | upstream.Unreachable | upstream.NoAnswer | upstream.AnswerLost
    )


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
        answers: list[upstream.Answer] = []

        def classify(answer: upstream.Answer) -> DeliveryError | None:
            answers.append(answer)
            return _status_error(operation, answer)

        try:
            answer = await upstream.call(
                self._session(), method, url, adapter=self.adapter, operation=operation,
                what=operation, timeout=self._timeout, json_body=body, params=params,
                classify=classify,
            )
        except DeliveryError as exc:
            self._failed(operation, _result(exc), url, answers[0].status if answers else None)
            raise
        REQUESTS.labels(self.adapter, operation, "ok" if answer.ok else "duplicate").inc()
        return answer.json()

    def _failed(self, operation: str, result: str, url: str, status: int | None = None) -> None:
        REQUESTS.labels(self.adapter, operation, result).inc()
        self.log.info(
            "obi4wan.request_failed", operation=operation, result=result, status=status,
            url=redact_url(url),
        )


def _status_error(operation: str, answer: upstream.Answer) -> DeliveryError | None:
    """OBI4wan's statuses: a repeated ingest (409) is fine, 429 proves the desk alive."""
    status = answer.status
    if answer.ok or (operation == "ingest" and status == wire.DUPLICATE_STATUS):
        return None
    detail = f"{operation}: OBI4wan answered {status}{_error_code(answer.body)}"
    if status in wire.AUTH_STATUSES:
        return AuthError(detail)
    if status == wire.RATE_LIMIT_STATUS:
        # A plain TransientError: not counted by the circuit.
        return TransientError(detail, retry_after=answer.retry_after)
    if status in wire.RETRYABLE_STATUSES or status >= 500:
        return DeskDown(detail, retry_after=answer.retry_after)
    return PermanentError(detail)


def _result(exc: DeliveryError) -> str:
    """The `result` label of `handover_obi4wan_requests_total` for a failure."""
    if isinstance(exc, upstream.Unreachable | upstream.NoAnswer | upstream.AnswerLost):
        return exc.reason
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, DeskDown):
        return "server_error"
    if isinstance(exc, TransientError):
        return "rate_limited"
    return "rejected"


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


__all__ = ["DeskDown", "Obi4wanClient", "counts_as_failure"]

