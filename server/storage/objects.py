"""Object records in MongoDB. Every query carries namespace_id (and bucket_id)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from bucketd.server.domain.aggregation import AggregationPlan
from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import ObjectRecord, SoftDeleteMarks
from bucketd.server.domain.query import Filter
from bucketd.server.domain.status import Status
from bucketd.server.domain.stored import ObjectStats, Usage
from bucketd.server.errors import InvalidArgument, StorageUnavailable
from bucketd.server.storage import aggregation
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.object_documents import object_document, object_record
from bucketd.server.storage.queries import (
    DEFAULT_LIMITS,
    QueryLimits,
    bounded,
    paged,
    scoped,
    within_size,
)

# Objects that get and list answer: all but the soft-deleted ones (bulk-soft-delete).
_LIVE = {"soft_deleted_at": None}
# Objects that count in a bucket's usage: live, stored, not failed, not still being written.
_COUNTED = {"status": {"$nin": [Status.FAILED, Status.PROCESSING]}, **_LIVE}


def _scoped(namespace_id: str, bucket_id: str, query: Filter) -> dict[str, Any]:
    return scoped({"namespace_id": namespace_id, "bucket_id": bucket_id, **_LIVE}, query, _ID)


_ID = "object_id"


class MongoObjects:
    def __init__(
        self, database: AsyncDatabase[Document], limits: QueryLimits = DEFAULT_LIMITS
    ) -> None:
        self._limits = limits
        self._objects = database["objects"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._objects.create_index(
                [("namespace_id", ASCENDING), ("bucket_id", ASCENDING), ("created_at", ASCENDING)]
            )
            await self._objects.create_index(
                [("namespace_id", ASCENDING), ("bucket_id", ASCENDING), ("blobs.sha256", ASCENDING)]
            )
            await self._objects.create_index([("write.write_id", ASCENDING)])
            await self._objects.create_index([("write_id", ASCENDING)])  # finished sessions
            await self._objects.create_index([("write.lease_until", ASCENDING)])
            # the janitor asks which of a batch of open multipart uploads a write still names
            await self._objects.create_index([("write.pending.multipart_id", ASCENDING)])

    async def insert(self, record: ObjectRecord) -> None:
        with translated():
            await self._objects.insert_one(object_document(record))

    async def get(self, namespace_id: str, bucket_id: str, object_id: str) -> ObjectRecord | None:
        with translated():
            doc = await self._objects.find_one(
                {"namespace_id": namespace_id, "bucket_id": bucket_id, "_id": object_id, **_LIVE}
            )
        return object_record(doc) if doc else None

    async def update_fields(self, record: ObjectRecord) -> bool:
        """Key prefix and metadata of an object no write is changing (PATCH, metadata-only PUT)."""
        doc = object_document(record)
        fields = ("key_prefix", "metadata", "search_text", "updated_at")
        with translated():
            result = await self._objects.update_one(
                {"_id": record.object_id, "write": {"$exists": False}},
                {"$set": {name: doc[name] for name in fields}},
            )
        return result.matched_count == 1

    async def delete(self, namespace_id: str, bucket_id: str, object_id: str) -> bool:
        with translated():
            result = await self._objects.delete_one(
                {"namespace_id": namespace_id, "bucket_id": bucket_id, "_id": object_id}
            )
        return result.deleted_count == 1

    async def page(
        self,
        namespace_id: str,
        bucket_id: str,
        *,
        query: Filter,
        sort: SortRequest,
        page: PageRequest,
        count: bool,
    ) -> tuple[list[ObjectRecord], int | None]:
        scope = {"namespace_id": namespace_id, "bucket_id": bucket_id, **_LIVE}
        docs, total = await paged(
            self._objects,
            scope,
            query,
            sort=sort,
            page=page,
            id_field=_ID,
            limits=self._limits,
            count=count,
        )
        return [object_record(doc) for doc in docs], total

    async def stats(self, namespace_id: str, bucket_id: str, query: Filter) -> ObjectStats:
        """Objects, blobs and objects per status among those `query` matches: one aggregation."""
        pipeline: list[dict[str, Any]] = [
            {"$match": _scoped(namespace_id, bucket_id, query)},
            {
                "$group": {
                    "_id": "$status",
                    "objects": {"$sum": 1},
                    "blobs": {"$sum": {"$size": {"$ifNull": ["$blobs", []]}}},
                }
            },
        ]
        with translated(), bounded(self._limits):
            rows = await (
                await self._objects.aggregate(pipeline, maxTimeMS=self._limits.max_time_ms)
            ).to_list()
        return ObjectStats(
            total_objects=sum(row["objects"] for row in rows),
            total_blobs=sum(row["blobs"] for row in rows),
            objects_by_status={row["_id"]: row["objects"] for row in rows},
        )

    async def aggregate(
        self, namespace_id: str, bucket_id: str, query: Filter, plan: AggregationPlan
    ) -> tuple[list[dict[str, Any]], int]:
        """Run `plan` over the live objects of the bucket that `query` matches: the groups with
        their metrics, and how many groups there were."""
        match = {"$match": _scoped(namespace_id, bucket_id, query)}
        ms = self._limits.max_time_ms
        try:
            with translated(), bounded(self._limits):
                groups = await self._objects.aggregate(
                    [match, *aggregation.groups_pipeline(plan)], maxTimeMS=ms
                )
                rows = await within_size(groups, self._limits)
                counted = await self._objects.aggregate(
                    [match, *aggregation.count_pipeline(plan)], maxTimeMS=ms
                )
                total = (await counted.to_list() or [{"groups": 0}])[0]["groups"]
                return aggregation.answer(rows, plan), total
        except StorageUnavailable as error:
            if isinstance(error.__cause__, OperationFailure):  # the data did not fit the request
                raise InvalidArgument(
                    f"the aggregation cannot run on these objects: {error.__cause__}"
                ) from None
            raise

    async def soft_delete(
        self, namespace_id: str, bucket_id: str, object_ids: list[str], *, marks: SoftDeleteMarks
    ) -> list[str]:
        """Hide the live objects among `object_ids` (their records and bytes stay)."""
        scope = {"namespace_id": namespace_id, "bucket_id": bucket_id, **_LIVE}
        with translated():
            docs = await self._objects.find(
                {**scope, "_id": {"$in": object_ids}}, {"_id": 1}
            ).to_list()
            hidden = [doc["_id"] for doc in docs]
            await self._objects.update_many(
                {**scope, "_id": {"$in": hidden}}, {"$set": asdict(marks)}
            )
        return hidden

    async def holder_of_sha256(self, namespace_id: str, bucket_id: str, sha256: str) -> str | None:
        """An object of the bucket that already holds bytes with this SHA-256."""
        with translated():
            doc = await self._objects.find_one(
                {
                    "namespace_id": namespace_id,
                    "bucket_id": bucket_id,
                    "blobs.sha256": sha256,
                    "status": {"$ne": Status.FAILED},
                    **_LIVE,
                },
                {"_id": 1},
            )
        return doc["_id"] if doc else None

    async def usage(self, namespace_id: str, bucket_ids: list[str]) -> dict[str, Usage]:
        """Objects, bytes and the latest creation per bucket: one aggregation, exact."""
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "namespace_id": namespace_id,
                    "bucket_id": {"$in": bucket_ids},
                    **_COUNTED,
                }
            },
            {
                "$group": {
                    "_id": "$bucket_id",
                    "objects": {"$sum": 1},
                    "bytes": {"$sum": "$size_bytes"},
                    "last": {"$max": "$created_at"},
                }
            },
        ]
        with translated(), bounded(self._limits):
            rows = await (
                await self._objects.aggregate(pipeline, maxTimeMS=self._limits.max_time_ms)
            ).to_list()
        return {row["_id"]: Usage(row["objects"], row["bytes"], row["last"]) for row in rows}

    async def counts(self, namespace_ids: list[str]) -> dict[str, int]:
        """Objects per namespace."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"namespace_id": {"$in": namespace_ids}, **_COUNTED}},
            {"$group": {"_id": "$namespace_id", "objects": {"$sum": 1}}},
        ]
        with translated(), bounded(self._limits):
            rows = await (
                await self._objects.aggregate(pipeline, maxTimeMS=self._limits.max_time_ms)
            ).to_list()
        return {row["_id"]: row["objects"] for row in rows}
