"""Presigned uploads in MongoDB. State changes are conditional single-document updates, so that
several server instances can confirm, finish and expire uploads without stepping on each other.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.query import Filter
from bucketd.server.domain.status import Status
from bucketd.server.domain.uploads import UploadChange, UploadRecord, changed_fields
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.queries import DEFAULT_LIMITS, QueryLimits, bounded, paged, scoped

_FIELDS = {f.name for f in fields(UploadRecord)}
_ID = "upload_id"


def _record(doc: Document) -> UploadRecord:
    values = {k: v for k, v in doc.items() if k in _FIELDS}
    values["upload_id"] = doc["_id"]
    values["status"] = Status(doc["status"])
    return UploadRecord(**values)


class MongoUploads:
    def __init__(
        self, database: AsyncDatabase[Document], limits: QueryLimits = DEFAULT_LIMITS
    ) -> None:
        self._limits = limits
        self._uploads = database["uploads"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._uploads.create_index(
                [("namespace_id", ASCENDING), ("bucket_id", ASCENDING), ("created_at", ASCENDING)]
            )
            await self._uploads.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
            await self._uploads.create_index(
                [("organization_id", ASCENDING), ("task_id", ASCENDING)], sparse=True
            )

    async def insert(self, record: UploadRecord) -> None:
        doc = asdict(record)
        doc["_id"] = doc.pop("upload_id")
        doc["search_text"] = record.search_text  # what `search` matches, with the filename
        with translated():
            await self._uploads.insert_one(doc)

    async def get(self, namespace_id: str, bucket_id: str, upload_id: str) -> UploadRecord | None:
        with translated():
            doc = await self._uploads.find_one(
                {"namespace_id": namespace_id, "bucket_id": bucket_id, "_id": upload_id}
            )
        return _record(doc) if doc else None

    async def transition(
        self,
        upload_id: str,
        *,
        statuses: tuple[Status, ...],
        change: UploadChange,
        expired_before: datetime | None = None,
        lease_ran_out_before: datetime | None = None,
    ) -> UploadRecord | None:
        """Apply `change` only if the upload is still in one of
        `statuses` (and expired, or its lease ran out, before the given times); the updated
        record, or None when another request or instance changed it first."""
        when: dict[str, Any] = {"_id": upload_id, "status": {"$in": list(statuses)}}
        if expired_before is not None:
            when["expires_at"] = {"$lt": expired_before}
        if lease_ran_out_before is not None:
            when["lease_until"] = {"$lt": lease_ran_out_before}
        with translated():
            doc = await self._uploads.find_one_and_update(
                when,
                {"$set": changed_fields(change)},
                return_document=ReturnDocument.AFTER,
            )
        return _record(doc) if doc else None

    async def completed_with_sha256(
        self, namespace_id: str, bucket_id: str, sha256: str
    ) -> UploadRecord | None:
        with translated():
            doc = await self._uploads.find_one(
                {
                    "namespace_id": namespace_id,
                    "bucket_id": bucket_id,
                    "file_hash": sha256,
                    "status": Status.COMPLETED,
                }
            )
        return _record(doc) if doc else None

    async def page(
        self,
        namespace_id: str,
        bucket_id: str,
        *,
        query: Filter,
        sort: SortRequest,
        page: PageRequest,
    ) -> tuple[list[UploadRecord], int]:
        scope = {"namespace_id": namespace_id, "bucket_id": bucket_id}
        docs, total = await paged(
            self._uploads, scope, query, sort=sort, page=page, id_field=_ID, limits=self._limits
        )
        return [_record(doc) for doc in docs], total or 0

    async def stats(self, namespace_id: str, bucket_id: str, query: Filter) -> dict[str, Any]:
        scope = {"namespace_id": namespace_id, "bucket_id": bucket_id}
        pipeline: list[dict[str, Any]] = [
            {"$match": scoped(scope, query, _ID)},
            {
                "$group": {
                    "_id": "$status",
                    "count": {"$sum": 1},
                    "bytes": {"$sum": {"$ifNull": ["$file_size_bytes", 0]}},
                }
            },
        ]
        with translated(), bounded(self._limits):
            rows = await (
                await self._uploads.aggregate(pipeline, maxTimeMS=self._limits.max_time_ms)
            ).to_list()
        by_status = {row["_id"]: row["count"] for row in rows}
        total = sum(by_status.values())
        size = sum(row["bytes"] for row in rows)
        return {
            "total_uploads": total,
            "total_size_bytes": size,
            "uploads_by_status": by_status,
            "avg_file_size_bytes": size / total if total else 0.0,
            "unique_buckets": 1 if total else 0,
        }

    async def due(self, *, now: datetime, limit: int = 50) -> tuple[list[str], list[str]]:
        """(expired PENDING uploads, PROCESSING uploads whose lease ran out): work to pick up."""
        with translated():
            expired = (
                await self._uploads.find(
                    {"status": Status.PENDING, "expires_at": {"$lt": now}}, {"_id": 1}
                )
                .limit(limit)
                .to_list()
            )
            stalled = (
                await self._uploads.find(
                    {"status": Status.PROCESSING, "lease_until": {"$lt": now}}, {"_id": 1}
                )
                .limit(limit)
                .to_list()
            )
        return [d["_id"] for d in expired], [d["_id"] for d in stalled]

    async def by_task(self, organization_id: str, task_id: str) -> UploadRecord | None:
        """The upload a background confirm (task_id) works on, in the caller's organization."""
        with translated():
            doc = await self._uploads.find_one(
                {"organization_id": organization_id, "task_id": task_id}
            )
        return _record(doc) if doc else None

    async def by_id(self, upload_id: str) -> UploadRecord | None:
        """For the background worker only: it acts on ids that a scoped query produced."""
        with translated():
            doc = await self._uploads.find_one({"_id": upload_id})
        return _record(doc) if doc else None
