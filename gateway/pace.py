"""How fast a request body must arrive: every route reads its body through `BodyPace`.

A body is cut with 408 when nothing arrives for BUCKETD_HTTP_BODY_IDLE_SECONDS, or when, past
BUCKETD_HTTP_BODY_GRACE_SECONDS, it has averaged less than BUCKETD_HTTP_BODY_MIN_BYTES_PER_SECOND
since its first read: a client that trickles a byte now and then holds a connection, a slot
and its buffered bytes as long as it likes otherwise. Each read waits at most until the moment
the body would fall below that rate, so the cut comes on time even while nothing arrives.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from bucketd.codec import MarshalError
from bucketd.gateway.settings import GatewaySettings


class BodyTooSlow(MarshalError):
    """The body stopped arriving, or arrives slower than the minimum rate."""

    status = 408


class BodyPace:
    """One body's reads, timed."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._idle = settings.http_body_idle_seconds
        self._rate = settings.http_body_min_bytes_per_second
        self._grace = settings.http_body_grace_seconds
        self._started = time.monotonic()
        self.received = 0

    def _rate_deadline(self) -> float:
        if not self._rate:
            return math.inf
        return self._started + max(self._grace, self.received / self._rate)

    async def read(self, read: Callable[[], Awaitable[bytes]]) -> bytes:
        """What `read()` returns, or BodyTooSlow when it comes too late."""
        by_rate = self._rate_deadline() - time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, min(self._idle, by_rate))):
                data = await read()
        except TimeoutError:
            if by_rate < self._idle:
                raise BodyTooSlow(
                    f"the request body arrives slower than {self._rate:g} bytes/s "
                    f"({self.received} bytes in {time.monotonic() - self._started:.0f} s, "
                    "BUCKETD_HTTP_BODY_MIN_BYTES_PER_SECOND)"
                ) from None
            raise BodyTooSlow(
                f"the request body stopped arriving: nothing for {self._idle:g} s"
            ) from None
        self.received += len(data)
        return data

    async def chunks(self, read: Callable[[], Awaitable[bytes]]) -> AsyncIterator[bytes]:
        """`read()`'s results until it returns no bytes (the end of the body)."""
        while data := await self.read(read):
            yield data
