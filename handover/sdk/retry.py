"""Retry policy: the one place that decides how long to wait before trying again.

The delivery worker's schedule lives in the outbox row (attempts, next_attempt_at), so a
restart keeps it; the delay is full-jitter exponential backoff with a cap, and never
shorter than what the target asked for with Retry-After. Short in-request retries for
adapters (a connection reset while the body surely was not sent) use tenacity.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from handover.sdk.errors import TransientError


def backoff_seconds(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before attempt number `attempt + 1` (attempt counts failures, from 1).

    Full jitter: uniform over [0, min(cap, base * 2**(attempt-1))], which spreads a burst
    of failures over time instead of retrying them in lockstep.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    delay: float = ceiling * rand()
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def in_request_retry(
    attempts: int = 3,
    max_wait: float = 2.0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = TransientError,
) -> AsyncRetrying:
    """Short retries inside one delivery, for errors where the target surely got nothing.

    `retry_on` narrows what is retried (`handover.sdk.upstream.Unreachable`: only a
    connection that was never made). Usage:
    `async for attempt in in_request_retry(): with attempt: await call()`.
    """
    return AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.1, max=max_wait),
        reraise=True,
    )
