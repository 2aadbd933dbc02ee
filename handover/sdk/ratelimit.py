"""Token buckets per key (client address, conversation), for the citizen channels' limits."""

from __future__ import annotations

from dataclasses import dataclass

#: Buckets kept at most; beyond it the full (idle) ones are forgotten first.
MAX_KEYS = 50_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`per_minute` events per key, with bursts up to the same number.

    Time is passed in (seconds, monotonic or the injected clock), so tests need no sleep.
    A full bucket is the same as no bucket, so forgetting idle keys loses nothing.
    """

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def wait_seconds(self, key: str, now: float) -> float:
        """Seconds until `key` may go again (0 when it may now): for Retry-After."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        return max(0.0, (1.0 - tokens) / self.rate)

    def _forget_full(self, now: float) -> None:
        for key, b in list(self._buckets.items()):
            if b.tokens + (now - b.at) * self.rate >= self.capacity:
                del self._buckets[key]
        if len(self._buckets) >= MAX_KEYS:
            # Everyone is busy: drop the oldest half rather than grow without bound.
            for key in list(self._buckets)[: MAX_KEYS // 2]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
