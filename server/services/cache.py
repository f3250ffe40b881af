"""A small time-limited cache: what a call may trust for `ttl` seconds without a MongoDB read.

Used for valid API keys and for namespace lookups. Whatever is cached may be stale for up to
`ttl` seconds on an instance that cached it (a revoked key, a renamed namespace); a zero TTL
turns caching off. Misses are never cached: something created a moment ago works at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TtlCache[K, V]:
    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._now = now
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._now():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (self._now() + self._ttl, value)

    def drop_where(self, condition: Callable[[V], bool]) -> None:
        """Forget the entries whose value meets `condition` (after a change made here)."""
        for key in [k for k, (_, value) in self._entries.items() if condition(value)]:
            del self._entries[key]
