"""The deadline of the call being served: every MongoDB and S3 operation made for it gets at most
what is left (storage/documents.py, storage/blobs.py), and so do URL fetches.

Set once per call by the API layer (from the gRPC deadline the client or the gateway sent: a
gRPC deadline, `X-Request-Timeout`, or the gateway's default); read where a slow peer could
otherwise keep a call alive past it. Work that outlives its call on purpose (a clean-up left in
the background, a confirm or task run after the answer) sets a deadline of its own, or none.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("bucketd_call_deadline", default=None)


def set_call_deadline(seconds_left: float | None) -> None:
    """The current call (and the tasks it starts from now on) ends in `seconds_left` (None:
    never)."""
    _DEADLINE.set(None if seconds_left is None else time.monotonic() + seconds_left)


def call_seconds_left() -> float | None:
    """What the current call has left (0 once its deadline passed); None without a deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def seconds_left(limit: float) -> float:
    """The time the current call has left, at most `limit`."""
    left = call_seconds_left()
    return limit if left is None else min(limit, left)


def past_deadline() -> bool:
    """Whether the current call has a deadline, and it has passed."""
    return call_seconds_left() == 0.0
