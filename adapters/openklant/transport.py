"""One HTTP call to the Klantinteracties API, with every failure classified.

- no connection could be made (nothing was sent): `TransientError`;
- a timeout or a dropped connection after the request went out: for a GET
  `TransientError`; for a POST `AmbiguousSendError` (the object may exist: the caller
  looks it up by its marker before posting again, so resending is safe);
- 5xx and 408: `TransientError`; 429: `TransientError` with the Retry-After seconds;
- 401/403: `AuthError`;
- 400: `PermanentError` naming the fields of `invalidParams` (never their reasons or
  values); other 4xx: `PermanentError`;
- a 2xx answer that is not the JSON the spec describes: `PermanentError` (a contract
  problem, loud in the logs);
- the circuit is open (when a breaker is given): `TransientError`, nothing is sent.

Logs and error messages carry the operation and status only: never a URL (its query may
hold an agent's identifier), a body (it holds the citizen's address and name) or the
token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from prometheus_client import Counter

from adapters.openklant import wire
from handover.sdk import metrics
from handover.sdk.circuit import CircuitBreaker, CircuitOpenError
from handover.sdk.errors import AmbiguousSendError, AuthError, PermanentError, TransientError
from handover.sdk.retry import parse_retry_after

REQUESTS = Counter(
    "handover_openklant_requests_total",
    "Calls to the Klantinteracties API by operation (e.g. create_internetaak, "
    "find_klantcontact) and result (ok, auth, rate_limited, server_error, rejected, "
    "timeout, connection_lost, connect_error, circuit_open, invalid_answer).",
    ["adapter", "operation", "result"],
    registry=metrics.REGISTRY,
)

MAX_ANSWER_BYTES = 256 * 1024
RETRYABLE_STATUSES = frozenset({408, 425, 502, 503, 504})


class ApiDown(TransientError):
    """The API did not answer or answered 5xx: counts towards opening the circuit."""


class ApiDownAmbiguous(AmbiguousSendError):
    """A POST went out but no answer came back: counts towards opening the circuit."""


def counts_as_failure(exc: BaseException) -> bool:
    """For a circuit breaker: only silence and server errors say the API is down."""
    return isinstance(exc, ApiDown | ApiDownAmbiguous)


class Transport:
    """Sends JSON requests to one Klantinteracties API with one token."""

    def __init__(
        self,
        *,
        adapter: str,
        session: Callable[[], aiohttp.ClientSession],
        base_url: str,
        token: str,
        timeout_seconds: float,
        log: Any,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.adapter = adapter
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._headers = {
            wire.AUTH_HEADER: f"{wire.AUTH_SCHEME} {token}",
            "Accept": "application/json",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.log = log
        self.breaker = breaker

    def url(self, path: str) -> str:
        return self.base_url + path

    def owns(self, url: str) -> bool:
        """Whether `url` is under this API (a `next` link elsewhere gets no token)."""
        return url.startswith(self.base_url + "/")

    async def get(self, operation: str, url: str, params: Mapping[str, str] | None) -> Any:
        return await self._call(operation, "GET", url, params, None)

    async def post(self, operation: str, path: str, body: Mapping[str, Any]) -> Any:
        return await self._call(operation, "POST", self.url(path), None, body)

    # --- one call -------------------------------------------------------------------------

    async def _call(
        self, operation: str, method: str, url: str, params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
    ) -> Any:
        if self.breaker is None:
            return await self._request(operation, method, url, params, body)
        try:
            with self.breaker.guard():
                return await self._request(operation, method, url, params, body)
        except CircuitOpenError as exc:
            REQUESTS.labels(self.adapter, operation, "circuit_open").inc()
            raise TransientError(f"{operation}: {exc}", retry_after=exc.retry_after) from None

    async def _request(
        self, operation: str, method: str, url: str, params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
    ) -> Any:
        started = time.monotonic()
        try:
            async with self._session().request(
                method, url, params=params, json=body, headers=self._headers,
                timeout=self._timeout, allow_redirects=False,
            ) as resp:
                status = resp.status
                raw = await resp.content.read(MAX_ANSWER_BYTES)
                retry_after = parse_retry_after(resp.headers.get(wire.RETRY_AFTER_HEADER))
        except aiohttp.ClientConnectorError:
            self._failed(operation, "connect_error")
            raise ApiDown(f"{operation}: cannot connect to the Klantinteracties API") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            result = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
            self._failed(operation, result)
            what = f"{operation}: {'no answer in time' if result == 'timeout' else 'answer lost'}"
            if method == "GET":
                raise ApiDown(what) from None
            raise ApiDownAmbiguous(what) from None
        finally:
            metrics.UPSTREAM_DURATION.labels(self.adapter, operation).observe(
                time.monotonic() - started)
        return self._answer(operation, status, raw, retry_after)

    def _answer(self, operation: str, status: int, raw: bytes, retry_after: float | None) -> Any:
        data = _json(raw)
        if 200 <= status < 300:
            if data is None:
                self._failed(operation, "invalid_answer", status)
                raise PermanentError(f"{operation}: the answer ({status}) is not JSON")
            REQUESTS.labels(self.adapter, operation, "ok").inc()
            return data
        detail = f"{operation}: the Klantinteracties API answered {status}"
        if status in (401, 403):
            self._failed(operation, "auth", status)
            raise AuthError(detail)
        if status == 429:
            self._failed(operation, "rate_limited", status)
            raise TransientError(detail, retry_after=retry_after)
        if status in RETRYABLE_STATUSES or status >= 500:
            self._failed(operation, "server_error", status)
            raise ApiDown(detail, retry_after=retry_after)
        fields = wire.invalid_params(data)
        self._failed(operation, "rejected", status, fields)
        if fields:
            detail += f"; invalid: {', '.join(fields)}"
        raise PermanentError(detail)

    def _failed(
        self, operation: str, result: str, status: int | None = None,
        fields: list[str] | None = None,
    ) -> None:
        REQUESTS.labels(self.adapter, operation, result).inc()
        metrics.UPSTREAM_ERRORS.labels(self.adapter, _error_class(result)).inc()
        self.log.info("openklant.request_failed", operation=operation, result=result,
                      status=status, invalid_fields=fields or None)


def _error_class(result: str) -> str:
    if result == "auth":
        return "auth"
    if result in ("rejected", "invalid_answer"):
        return "permanent"
    return "transient"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


__all__ = ["ApiDown", "ApiDownAmbiguous", "Transport", "counts_as_failure"]
