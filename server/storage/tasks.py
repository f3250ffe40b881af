"""Tasks in MongoDB. Every state change is a conditional single-document update, so that several
instances can start, renew, take over and finish tasks without stepping on each other."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.query import Filter
from bucketd.server.domain.status import Status
from bucketd.server.domain.tasks import LEGACY_TASK_TYPES, RUNNABLE, TaskRecord, TaskType
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.queries import DEFAULT_LIMITS, QueryLimits, paged

_FIELDS = {f.name for f in fields(TaskRecord)}


def _record(doc: Document) -> TaskRecord:
    values = {k: v for k, v in doc.items() if k in _FIELDS}
    values["task_id"] = doc["_id"]
    values["status"] = Status(doc["status"])
    values["task_type"] = LEGACY_TASK_TYPES.get(doc["task_type"]) or TaskType(doc["task_type"])
    return TaskRecord(**values)


class MongoTasks:
    def __init__(
        self, database: AsyncDatabase[Document], limits: QueryLimits = DEFAULT_LIMITS
    ) -> None:
        self._limits = limits
        self._tasks = database["tasks"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._tasks.create_index(
                [("organization_id", ASCENDING), ("created_at", ASCENDING)]
            )
            await self._tasks.create_index([("status", ASCENDING), ("lease_until", ASCENDING)])

    async def insert(self, record: TaskRecord) -> None:
        doc = asdict(record)
        doc["_id"] = doc.pop("task_id")
        with translated():
            await self._tasks.insert_one(doc)

    async def get(self, organization_id: str, task_id: str) -> TaskRecord | None:
        with translated():
            doc = await self._tasks.find_one({"organization_id": organization_id, "_id": task_id})
        return _record(doc) if doc else None

    async def page(
        self, organization_id: str, *, query: Filter, sort: SortRequest, page: PageRequest
    ) -> tuple[list[TaskRecord], int]:
        scope = {"organization_id": organization_id}
        docs, total = await paged(
            self._tasks, scope, query, sort=sort, page=page, id_field="task_id", limits=self._limits
        )
        return [_record(doc) for doc in docs], total or 0

    async def claim(
        self, task_id: str, *, now: datetime, until: datetime, fresh: bool
    ) -> TaskRecord | None:
        """Take the task to run it: a PENDING one just submitted (`fresh`), or a runnable one
        whose lease ran out (its instance died)."""
        condition: dict[str, Any] = (
            {"status": Status.PENDING}
            if fresh
            else {"status": {"$in": list(RUNNABLE)}, "lease_until": {"$lt": now}}
        )
        with translated():
            doc = await self._tasks.find_one_and_update(
                {"_id": task_id, **condition},
                {
                    "$set": {"status": Status.IN_PROGRESS, "lease_until": until, "updated_at": now},
                    "$inc": {"attempts": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
        return _record(doc) if doc else None

    async def renew(self, task_id: str, *, until: datetime, progress: dict[str, Any]) -> bool:
        """Extend the lease and save progress; False when the task was killed meanwhile."""
        with translated():
            result = await self._tasks.update_one(
                {"_id": task_id, "status": Status.IN_PROGRESS},
                {"$set": {"lease_until": until, "additional_data": progress}},
            )
        return result.matched_count == 1

    async def finish(
        self,
        task_id: str,
        *,
        status: Status,
        outputs: dict[str, Any],
        progress: dict[str, Any],
        error: str | None,
        now: datetime,
    ) -> TaskRecord | None:
        changes = {
            "status": status,
            "outputs": outputs,
            "additional_data": progress,
            "error": error,
            "lease_until": None,
            "updated_at": now,
        }
        with translated():
            doc = await self._tasks.find_one_and_update(
                {"_id": task_id, "status": Status.IN_PROGRESS},
                {"$set": changes},
                return_document=ReturnDocument.AFTER,
            )
        return _record(doc) if doc else None

    async def cancel(
        self, organization_id: str, task_id: str, *, now: datetime
    ) -> TaskRecord | None:
        with translated():
            doc = await self._tasks.find_one_and_update(
                {
                    "_id": task_id,
                    "organization_id": organization_id,
                    "status": {"$in": list(RUNNABLE)},
                },
                {
                    "$set": {
                        "status": Status.CANCELED,
                        "error": "killed by the caller",
                        "lease_until": None,
                        "updated_at": now,
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
        return _record(doc) if doc else None

    async def due(self, *, now: datetime, limit: int = 20) -> list[str]:
        """Runnable tasks whose lease ran out: their instance died (or never started them)."""
        with translated():
            docs = (
                await self._tasks.find(
                    {"status": {"$in": list(RUNNABLE)}, "lease_until": {"$lt": now}}, {"_id": 1}
                )
                .limit(limit)
                .to_list()
            )
        return [doc["_id"] for doc in docs]
