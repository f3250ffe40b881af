"""The deadline of the call being served, for work that must not outlive it (URL fetches).

Set once per call by the API layer (from the gRPC deadline the client or the gateway sent);
read where a slow peer could otherwise keep a call alive for ever.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("bucketd_call_deadline", default=None)


def set_call_deadline(seconds_left: float | None) -> None:
    _DEADLINE.set(None if seconds_left is None else time.monotonic() + seconds_left)


def seconds_left(limit: float) -> float:
    """The time the current call has left, at most `limit`."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return limit
    return max(0.0, min(limit, deadline - time.monotonic()))
