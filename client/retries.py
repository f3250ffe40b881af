"""What the client retries, and how long it waits: UNAVAILABLE only (the call did not reach a
working server, or its answer was lost), with capped, jittered exponential backoff. A create is
retried only with an idempotency key, so a retry answers the object the first attempt made."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bucketd.client.errors import Unavailable


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), with full jitter."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


async def retrying[T](policy: RetryPolicy, call: Callable[[], Awaitable[T]]) -> T:
    """`call()` until it does not raise Unavailable, at most `policy.attempts` times."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except Unavailable:
            if attempt == policy.attempts:
                raise
            await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")
