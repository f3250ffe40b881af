"""Shutdown in order: stop taking work, give the work in flight its grace, then stop it.

The gRPC server and the gateway each keep one Drain. Once `start()` is called, new calls are
refused (UNAVAILABLE / 503, both retryable) and health says NOT_SERVING; `settle()` waits for the
calls in flight to finish, up to the grace period; `stop()` cancels what is left, and the
cancelled calls answer UNAVAILABLE / 503 (see server/api/observe.py, gateway/access.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

SHUTTING_DOWN = "the server is shutting down: retry the request (another instance may answer)"


class Drain:
    def __init__(self) -> None:
        self._draining = False
        self._stopping = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def stopping(self) -> bool:
        """True once `stop()` cancelled the calls in flight: their CancelledError is ours."""
        return self._stopping

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the current task as a call in flight for as long as the block runs."""
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight.discard(task)
            if not self._in_flight:
                self._idle.set()

    def start(self) -> None:
        self._draining = True

    async def settle(self, grace: float) -> bool:
        """Wait up to `grace` seconds for the calls in flight; True if they all finished."""
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self, wait: float = 5.0) -> None:
        """Cancel the calls still in flight and wait (briefly) for them to answer."""
        self._stopping = True
        for task in list(self._in_flight):
            task.cancel(SHUTTING_DOWN)
        await self.settle(wait)
