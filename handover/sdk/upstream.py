"""One HTTP call to an upstream API, classified once for every adapter's client.

`call()` sends one request with aiohttp and ends in an `Answer` or in one of the
delivery error classes the outbox worker understands:

- no connection could be made (refused, DNS, connect timeout): `Unreachable`, a
  `TransientError`: nothing reached the upstream, so trying again is always safe;
- the request went out but no (complete) answer came back (timeout, connection lost):
  `NoAnswer` (`TransientError`) for an idempotent request (GET, HEAD, or
  `idempotent=True`), else `AnswerLost` (`AmbiguousSendError`): the upstream may have
  processed it, and the target's `resend_safe` decides;
- an answer: `classify(answer)` decides. The default, `default_error`, is 2xx ok;
  408/425/429/5xx `TransientError` (Retry-After honoured); 401/403 `AuthError`; any
  other status `PermanentError`. A client with special cases (an upstream's own error
  codes, a status that means "already done") passes its own `classify`, handles those
  explicitly and returns `default_error(...)` for the rest.

Every call is timed in `handover_upstream_request_duration_seconds{adapter,operation}`
and every failure counted in `handover_upstream_errors_total{adapter,error}` (error:
transient, ambiguous, auth, permanent). `adapter` is the instance name and `operation`
one of a client's fixed names, so the labels stay bounded. URLs never appear in the
errors: a query string may carry a token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    DeliveryError,
    PermanentError,
    TransientError,
)
from handover.sdk.metrics import UPSTREAM_DURATION, UPSTREAM_ERRORS
from handover.sdk.retry import parse_retry_after

#: Bytes of an answer kept; a longer answer is cut there and marked `too_large`.
MAX_ANSWER_BYTES = 64 * 1024
#: Statuses that say "not now" without the request having been processed.
RETRY_STATUSES = frozenset({408, 425, 429})
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unreachable(TransientError):
    """No connection was made: nothing reached the upstream."""

    reason = "connect_error"


class NoAnswer(TransientError):
    """An idempotent request got no answer (timeout or connection lost): safe to repeat.

    `reason` is "timeout" or "connection_lost"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class AnswerLost(AmbiguousSendError):
    """The request went out but its answer did not come back: it may have been processed.

    `reason` is "timeout" or "connection_lost"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Answer:
    """What the upstream answered."""

    status: int
    #: At most the call's `max_bytes`.
    body: bytes
    #: The upstream sent more than `max_bytes`.
    too_large: bool
    #: Seconds from the Retry-After header, if any.
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; None when empty or not JSON."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None


def default_error(answer: Answer, detail: str) -> DeliveryError | None:
    """The error class of an answer by its status alone; None for 2xx."""
    status = answer.status
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthError(detail)
    if status in RETRY_STATUSES or status >= 500:
        return TransientError(detail, answer.retry_after)
    return PermanentError(detail)


Classify = Callable[[Answer], DeliveryError | None]


def error_class(exc: BaseException) -> str:
    """The `error` label of a failure: transient, ambiguous, auth or permanent."""
    if isinstance(exc, AmbiguousSendError):
        return "ambiguous"
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, PermanentError):
        return "permanent"
    return "transient"


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    adapter: str,
    operation: str,
    what: str,
    timeout: aiohttp.ClientTimeout,
    classify: Classify | None = None,
    json_body: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = MAX_ANSWER_BYTES,
    idempotent: bool | None = None,
) -> Answer:
    """Send one request; the answer when `classify` finds no error, else raise.

    `what` starts every error message ("rasa", "ingest"); `classify` defaults to
    `default_error` with the message "<what>: HTTP <status>". Redirects are not
    followed: an API that redirects is misconfigured, and the redirect could carry our
    credentials elsewhere.
    """
    if idempotent is None:
        idempotent = method.upper() in _IDEMPOTENT_METHODS
    started = time.perf_counter()
    try:
        try:
            async with session.request(
                method, url, json=json_body, params=params, headers=headers,
                timeout=timeout, allow_redirects=False,
            ) as resp:
                raw = await resp.content.read(max_bytes + 1)
                answer = Answer(
                    status=resp.status,
                    body=raw[:max_bytes],
                    too_large=len(raw) > max_bytes,
                    retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            raise Unreachable(f"{what}: cannot connect") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
            text = f"{what}: {'no answer in time' if reason == 'timeout' else 'answer lost'}"
            if idempotent:
                raise NoAnswer(text, reason) from None
            raise AnswerLost(text, reason) from None
        error = (classify or _by_status(what))(answer)
        if error is not None:
            raise error
        return answer
    except DeliveryError as exc:
        UPSTREAM_ERRORS.labels(adapter, error_class(exc)).inc()
        raise
    finally:
        UPSTREAM_DURATION.labels(adapter, operation).observe(time.perf_counter() - started)


def _by_status(what: str) -> Classify:
    return lambda answer: default_error(answer, f"{what}: HTTP {answer.status}")


__all__ = [
    "MAX_ANSWER_BYTES",
    "RETRY_STATUSES",
    "Answer",
    "AnswerLost",
    "Classify",
    "NoAnswer",
    "Unreachable",
    "call",
    "default_error",
    "error_class",
]
