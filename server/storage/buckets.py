"""Buckets in MongoDB: unique bucket_name per namespace; every query carries namespace_id."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import Bucket, BucketChanges
from bucketd.server.domain.query import Filter
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.status import Status
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.queries import DEFAULT_LIMITS, QueryLimits, bounded, paged, scoped

BUCKET_PREFIX = "bkt_"
_ID = "bucket_id"


def _bucket(doc: Document) -> Bucket:
    return Bucket(
        bucket_id=doc["_id"],
        namespace_id=doc["namespace_id"],
        bucket_name=doc["bucket_name"],
        description=doc.get("description"),
        bucket_schema=BucketSchema((doc.get("bucket_schema") or {}).get("properties") or {}),
        unique_key=doc.get("unique_key"),
        metadata=doc.get("metadata") or {},
        object_count=doc.get("object_count", 0),
        total_size_bytes=doc.get("total_size_bytes", 0),
        status=Status(doc.get("status", Status.ACTIVE)),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        last_upload_at=doc.get("last_upload_at"),
    )


def _duplicate(name: str | None) -> str:
    return f"Bucket '{name}' already exists in this namespace"


class MongoBuckets:
    def __init__(
        self, database: AsyncDatabase[Document], limits: QueryLimits = DEFAULT_LIMITS
    ) -> None:
        self._limits = limits
        self._buckets = database["buckets"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._buckets.create_index(
                [("namespace_id", ASCENDING), ("bucket_name", ASCENDING)], unique=True
            )

    async def insert(self, bucket: Bucket) -> None:
        doc = asdict(bucket)
        doc["_id"] = doc.pop("bucket_id")
        for computed in ("object_count", "total_size_bytes", "last_upload_at"):
            del doc[computed]  # what it holds is computed from its objects when read
        with translated(duplicate=_duplicate(bucket.bucket_name)):
            await self._buckets.insert_one(doc)

    async def find(self, namespace_id: str, identifier: str) -> Bucket | None:
        """By bkt_ id or by name, only within the namespace."""
        scope = {"namespace_id": namespace_id}
        with translated():
            doc = None
            if identifier.startswith(BUCKET_PREFIX):
                doc = await self._buckets.find_one({**scope, "_id": identifier})
            if doc is None:
                doc = await self._buckets.find_one({**scope, "bucket_name": identifier})
        return _bucket(doc) if doc else None

    async def page(
        self, namespace_id: str, *, query: Filter, sort: SortRequest, page: PageRequest
    ) -> tuple[list[Bucket], int]:
        scope = {"namespace_id": namespace_id}
        docs, total = await paged(
            self._buckets, scope, query, sort=sort, page=page, id_field=_ID, limits=self._limits
        )
        return [_bucket(doc) for doc in docs], total or 0

    async def counts(self, namespace_ids: list[str]) -> dict[str, int]:
        """Buckets per namespace."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"namespace_id": {"$in": namespace_ids}}},
            {"$group": {"_id": "$namespace_id", "buckets": {"$sum": 1}}},
        ]
        with translated(), bounded(self._limits):
            rows = await (
                await self._buckets.aggregate(pipeline, maxTimeMS=self._limits.max_time_ms)
            ).to_list()
        return {row["_id"]: row["buckets"] for row in rows}

    async def ids(self, namespace_id: str, query: Filter) -> list[str]:
        """Every bucket of the namespace that matches `query` (for list stats)."""
        with translated(), bounded(self._limits):
            docs = await self._buckets.find(
                scoped({"namespace_id": namespace_id}, query, _ID),
                {"_id": 1},
                max_time_ms=self._limits.max_time_ms,
            ).to_list()
        return [doc["_id"] for doc in docs]

    async def update(
        self, namespace_id: str, bucket_id: str, changes: BucketChanges, *, now: datetime
    ) -> Bucket | None:
        fields = {k: v for k, v in asdict(changes).items() if v is not None}
        with translated(duplicate=_duplicate(changes.bucket_name)):
            doc = await self._buckets.find_one_and_update(
                {"namespace_id": namespace_id, "_id": bucket_id},
                {"$set": {**fields, "updated_at": now}},
                return_document=ReturnDocument.AFTER,
            )
        return _bucket(doc) if doc else None

    async def delete(self, namespace_id: str, bucket_id: str) -> bool:
        with translated():
            result = await self._buckets.delete_one(
                {"namespace_id": namespace_id, "_id": bucket_id}
            )
        return result.deleted_count == 1
