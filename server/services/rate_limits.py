"""A per-key request rate limit: a token bucket per API key, in this process only (each worker
of `bucketd serve --workers`, and each replica, keeps its own; a key's real limit is the setting
times their number). Off when BUCKETD_RATE_LIMIT_PER_SECOND is 0."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bucketd.server.errors import RateLimited

# Buckets of keys idle this long are full again: forgetting them loses nothing.
_FORGET_AFTER_BUCKETS = 2


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    """`take(key)` spends one token of the key's bucket or raises RateLimited with the wait."""

    def __init__(
        self, *, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._swept = clock()

    def take(self, key: str) -> None:
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.setdefault(key, _Bucket(self._burst, now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / self._rate
            raise RateLimited(
                f"this API key sent more than {self._rate:g} requests per second (burst "
                f"{self._burst:g}, BUCKETD_RATE_LIMIT_PER_SECOND): retry in {wait:.2g} s",
                retry_after_seconds=wait,
            )
        bucket.tokens -= 1

    def _sweep(self, now: float) -> None:
        """Forgets the buckets that have refilled, so that many keys cost no lasting memory."""
        full_after = _FORGET_AFTER_BUCKETS * self._burst / self._rate
        if now - self._swept < full_after:
            return
        self._swept = now
        idle = [key for key, bucket in self._buckets.items() if now - bucket.at > full_after]
        for key in idle:
            del self._buckets[key]
