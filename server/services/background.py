"""Clean-up that never holds an answer (issue 39).

What a failed or cancelled write leaves (its multipart uploads, its draft record) is undone by a
clean-up that talks to the very stores that may have just stalled. It runs as a task of its own,
under a deadline of its own (BUCKETD_CLEANUP_SECONDS), and the call waits for it at most what is
left of the call's deadline — not at all once that has passed or the call is cancelled. What it
does not finish stays recorded in the write's lease, for the janitor (services/janitor.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from bucketd.server.domain.deadlines import call_seconds_left, set_call_deadline

log = logging.getLogger("bucketd.writes")

DEFAULT_CLEANUP_SECONDS = 30.0
# How long a call without a deadline (a stream) waits for its clean-up: plenty for stores that
# answer, so that what the call leaves is gone when it answers; never a stalled store's time.
UNTIMED_WAIT_SECONDS = 0.5

# Tasks are held here until they end: the event loop keeps only weak references.
_running: set[asyncio.Task[None]] = set()


async def _bounded(work: Coroutine[Any, Any, None], seconds: float, what: str) -> None:
    set_call_deadline(seconds)  # this task's own: every store call inside gets at most this
    try:
        async with asyncio.timeout(seconds):
            await work
    except TimeoutError:
        log.warning("%s left to the janitor: not done within %g s", what, seconds)
    except Exception as error:
        log.warning("%s left to the janitor: %s", what, getattr(error, "message", error))


def detach(work: Coroutine[Any, Any, None], *, seconds: float, what: str) -> asyncio.Task[None]:
    """Run `work` in the background within `seconds`; failures are logged, never raised."""
    task = asyncio.create_task(_bounded(work, seconds, what))
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


async def clean_up(
    work: Coroutine[Any, Any, None], *, seconds: float = DEFAULT_CLEANUP_SECONDS, what: str
) -> None:
    """Run the clean-up `work`, waiting for it no longer than the current call may wait (a call
    without a deadline: UNTIMED_WAIT_SECONDS)."""
    task = detach(work, seconds=seconds, what=what)
    current = asyncio.current_task()
    left = call_seconds_left()
    if left == 0 or (current is not None and current.cancelling()):
        return
    done, _ = await asyncio.wait([task], timeout=UNTIMED_WAIT_SECONDS if left is None else left)
    if not done:
        log.info("%s goes on in the background: the call's deadline is near", what)


async def beyond_the_call[T](work: Coroutine[Any, Any, T]) -> T:
    """`work`, run as a task that outlives the call which started it (a background confirm, a
    task): without that call's deadline, which it would otherwise inherit."""
    set_call_deadline(None)
    return await work
