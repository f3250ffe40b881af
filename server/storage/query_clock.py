"""A bounded query's time limit counts from when it holds a connection (storage/queries.py).

PyMongo's client-side operation timeout sends what is left of its deadline as maxTimeMS, so a
query that waited behind others for a free connection would be given only the rest, expire on
the server and be called too expensive (a 400) for what was only waiting (a 503). QueryClock
sets the deadline again at checkout: the query then has its whole limit, and never more than
the call has left. PyMongo publishes pool events in the task that checks the connection out,
so the deadline set there is that query's own.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar

from pymongo import _csot, monitoring

from bucketd.server.domain.deadlines import call_seconds_left

# While a bounded query runs: its own limit in seconds, and the deadline it may never pass (the
# call's; inf without one).
_RUNNING: ContextVar[tuple[float, float] | None] = ContextVar("bucketd_query", default=None)


@contextlib.contextmanager
def timed_from_checkout(seconds: float) -> Iterator[None]:
    """The operations inside get `seconds` each from when they hold a connection (and at most
    what is left of the call's deadline); enter it outside `pymongo.timeout(seconds)`."""
    left = call_seconds_left()
    deadline = math.inf if left is None else time.monotonic() + left
    token = _RUNNING.set((seconds, deadline))
    try:
        yield
    finally:
        _RUNNING.reset(token)


class QueryClock(monitoring.ConnectionPoolListener):
    """Starts a bounded query's limit again once it holds a connection (open_database
    registers one on every client); every other pool event is ignored."""

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        running = _RUNNING.get()
        if running is not None:
            seconds, deadline = running
            _csot.DEADLINE.set(min(deadline, time.monotonic() + seconds))

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None: ...
    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None: ...
    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None: ...
    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None: ...
    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None: ...
    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None: ...
    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None: ...
    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None: ...
    def connection_check_out_failed(
        self, event: monitoring.ConnectionCheckOutFailedEvent
    ) -> None: ...
    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None: ...
