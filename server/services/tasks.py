"""Running tasks: submitted here, run in the background under a lease kept in MongoDB.

While a task runs, a heartbeat renews its lease and saves its progress (`additional_data`). If
the instance dies, the lease runs out and any instance's janitor runs the task again from the
start (its steps are idempotent). A killed task (DELETE /v1/tasks/{id}) stops at its next
heartbeat. A handler returns the task's `outputs`; a BucketdError it raises ends it FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from bucketd.server.domain.filters import fields_or_metadata, list_filter
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.listing import ListQuery, PageRequest, SortRequest
from bucketd.server.domain.models import Principal
from bucketd.server.domain.status import Status
from bucketd.server.domain.tasks import (
    UNSTOPPABLE,
    TaskOutcome,
    TaskRecord,
    TaskType,
    upload_task,
)
from bucketd.server.domain.words import a
from bucketd.server.errors import BucketdError, FailedPrecondition, NotFound
from bucketd.server.services.background import beyond_the_call
from bucketd.server.services.ports import TaskStore, UploadStore

log = logging.getLogger("bucketd.tasks")
Clock = Callable[[], datetime]
LIST_LIMIT = (20, 1000)
FILTERABLE = {
    "task_id": "task_id",
    "task_type": "task_type",
    "status": "status",
    "namespace_id": "namespace_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
DEFAULT_SORT = SortRequest(field="created_at", descending=True)


class Progress:
    """What a running task did so far; the heartbeat saves it with each renewal."""

    def __init__(self, start: dict[str, Any]) -> None:
        self.data = dict(start)

    def add(self, **counts: int) -> None:
        for name, count in counts.items():
            self.data[name] = int(self.data.get(name, 0)) + count

    def set(self, **values: Any) -> None:
        self.data.update(values)


Handler = Callable[[TaskRecord, Progress], Coroutine[Any, Any, TaskOutcome]]


def task_not_found(task_id: str) -> NotFound:
    """The same answer whether the task is another organization's or does not exist."""
    return NotFound(f"Task '{task_id}' not found", details={"resource": "task", "id": task_id})


class Tasks:
    def __init__(
        self, *, store: TaskStore, uploads: UploadStore, lease: timedelta, clock: Clock
    ) -> None:
        self._store = store
        self._uploads = uploads
        self._lease = lease
        self._clock = clock
        self._handlers: dict[TaskType, Handler] = {}
        self._running: set[asyncio.Task[None]] = set()

    def handle(self, task_type: TaskType, handler: Handler) -> None:
        self._handlers[task_type] = handler

    async def submit(
        self,
        organization_id: str,
        task_type: TaskType,
        *,
        namespace_id: str | None,
        inputs: dict[str, Any],
    ) -> TaskRecord:
        """Record the task (PENDING) and start it here in the background."""
        now = self._clock()
        record = TaskRecord(
            task_id=new_id("task_"),
            organization_id=organization_id,
            namespace_id=namespace_id,
            task_type=task_type,
            status=Status.PENDING,
            inputs=inputs,
            created_at=now,
            updated_at=now,
            lease_until=now + self._lease,  # a janitor starts it if this instance cannot
        )
        await self._store.insert(record)
        self._spawn(record.task_id, fresh=True)
        return record

    async def get(self, principal: Principal, task_id: str) -> TaskRecord:
        """A task of the caller's organization; a background confirm of one upload (its
        task_id) answers as a task too, from the upload's state."""
        record = await self._store.get(principal.organization_id, task_id)
        if record is not None:
            return record
        upload = await self._uploads.by_task(principal.organization_id, task_id)
        if upload is None:
            raise task_not_found(task_id)
        return upload_task(upload)

    async def page(
        self, principal: Principal, request: ListQuery
    ) -> tuple[list[TaskRecord], int, PageRequest]:
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        sort = request.sort(allowed=FILTERABLE, default=DEFAULT_SORT)
        query = list_filter(request, fields_or_metadata(FILTERABLE), ["task_type", "task_id"])
        found, total = await self._store.page(
            principal.organization_id, query=query, sort=sort, page=page
        )
        return found, total, page

    async def kill(self, principal: Principal, task_id: str) -> TaskRecord:
        """Stop a running task (CANCELED); a finished one answers as it is."""
        record = await self.get(principal, task_id)
        if record.finished:
            return record
        if record.task_type in UNSTOPPABLE:
            raise FailedPrecondition(
                f"Task '{task_id}' is {a(record.task_type)}: a deletion cannot stop halfway, "
                "what it deleted first is gone already. Wait for it to finish.",
                details={"resource": "task", "id": task_id},
            )
        if record.task_type == TaskType.CONFIRM_UPLOAD:
            raise FailedPrecondition(
                f"Task '{task_id}' confirms one upload: it cannot be stopped; cancel the upload "
                "(DELETE …/uploads/{upload_id}) once it has finished if you do not want it.",
                details={"resource": "task", "id": task_id},
            )
        cancelled = await self._store.cancel(principal.organization_id, task_id, now=self._clock())
        return cancelled or await self.get(principal, task_id)

    async def sweep(self) -> int:
        """Run the tasks whose lease ran out (their instance died); returns how many ran."""
        ran = 0
        for task_id in await self._store.due(now=self._clock()):
            ran += await self.run(task_id, fresh=False)
        return ran

    async def run(self, task_id: str, *, fresh: bool) -> bool:
        """Claim the task and run it to its end; False if somebody else has it."""
        now = self._clock()
        record = await self._store.claim(task_id, now=now, until=now + self._lease, fresh=fresh)
        if record is None:
            return False
        progress = Progress(record.additional_data)
        work = asyncio.create_task(self._handlers[record.task_type](record, progress))
        heartbeat = asyncio.create_task(self._heartbeat(record.task_id, progress, work))
        try:
            outcome = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # shutting down: the lease runs out and a janitor resumes the task
            log.info("task %s stopped: it was killed, or taken over", task_id)
            return True
        except BucketdError as error:
            await self._finish(record, Status.FAILED, {}, progress, error.message)
            log.warning("task %s failed: %s", task_id, error.message)
            return True
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await self._finish(record, outcome.status, outcome.outputs, progress, None)
        return True

    async def _heartbeat(
        self, task_id: str, progress: Progress, work: asyncio.Task[TaskOutcome]
    ) -> None:
        """Renew the lease (and save progress) every third of it; cancel the work if the task
        was killed meanwhile."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            until = self._clock() + self._lease
            if not await self._store.renew(task_id, until=until, progress=progress.data):
                work.cancel()
                return

    async def _finish(
        self,
        record: TaskRecord,
        status: Status,
        outputs: dict[str, Any],
        progress: Progress,
        error: str | None,
    ) -> None:
        await self._store.finish(
            record.task_id,
            status=status,
            outputs=outputs,
            progress=progress.data,
            error=error,
            now=self._clock(),
        )

    def _spawn(self, task_id: str, *, fresh: bool) -> None:
        running = asyncio.create_task(beyond_the_call(self._run_logged(task_id, fresh=fresh)))
        self._running.add(running)
        running.add_done_callback(self._running.discard)

    async def _run_logged(self, task_id: str, *, fresh: bool) -> None:
        try:
            await self.run(task_id, fresh=fresh)
        except BucketdError as error:  # MongoDB away: the lease runs out, a janitor retries
            log.warning("task %s could not run: %s", task_id, error.message)

    async def drain(self) -> None:
        """Wait for the tasks this instance started (tests, graceful shutdown)."""
        await asyncio.gather(*self._running, return_exceptions=True)

    async def close(self) -> None:
        """Stop running tasks; their leases run out and a janitor resumes them."""
        for running in list(self._running):
            running.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
