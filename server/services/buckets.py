"""Buckets: schema'd containers of objects within a namespace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bucketd.server.domain import names
from bucketd.server.domain.filters import fields_or_metadata, list_filter
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.listing import ListQuery, PageRequest, SortRequest
from bucketd.server.domain.models import Bucket, BucketChanges, Namespace
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.errors import NotFound
from bucketd.server.services.ports import BucketStore

Clock = Callable[[], datetime]

FILTERABLE = {
    "bucket_id": "_id",
    "bucket_name": "bucket_name",
    "description": "description",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
SORTABLE = {**FILTERABLE, "object_count": "object_count", "total_size_bytes": "total_size_bytes"}
DEFAULT_SORT = SortRequest(field="created_at", descending=False)
LIST_LIMIT = (10, 1000)


def not_found(identifier: str) -> NotFound:
    return NotFound(
        f"Bucket '{identifier}' not found", details={"resource": "bucket", "id": identifier}
    )


@dataclass(frozen=True)
class BucketPage:
    results: list[Bucket]
    total: int
    page: PageRequest
    total_objects: int
    total_size_bytes: int


@dataclass(frozen=True)
class NewBucket:
    name: str
    description: str | None
    bucket_schema: dict[str, Any]
    unique_key: dict[str, Any] | None
    metadata: dict[str, Any]


class BucketService:
    def __init__(self, *, buckets: BucketStore, clock: Clock) -> None:
        self._buckets = buckets
        self._clock = clock

    async def create(self, namespace: Namespace, new: NewBucket) -> Bucket:
        schema = BucketSchema.parse(new.bucket_schema)
        if new.unique_key is not None:
            schema.check_unique_key(new.unique_key)
        now = self._clock()
        bucket = Bucket(
            bucket_id=new_id("bkt_"),
            namespace_id=namespace.namespace_id,
            bucket_name=names.bucket_name(new.name),
            description=names.description(new.description),
            bucket_schema=schema,
            unique_key=new.unique_key,
            metadata=new.metadata,
            created_at=now,
            updated_at=now,
        )
        await self._buckets.insert(bucket)
        return bucket

    async def get(self, namespace: Namespace, identifier: str) -> Bucket:
        bucket = await self._buckets.find(namespace.namespace_id, identifier)
        if bucket is None:
            raise not_found(identifier)
        return bucket

    async def page(self, namespace: Namespace, request: ListQuery) -> BucketPage:
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        sort = request.sort(allowed=SORTABLE, default=DEFAULT_SORT)
        query = list_filter(
            request, fields_or_metadata(FILTERABLE), ["_id", "bucket_name", "description"]
        )
        found, total = await self._buckets.page(
            namespace.namespace_id, query=query, sort=sort, page=page
        )
        objects, size = await self._buckets.totals(namespace.namespace_id, query)
        return BucketPage(found, total, page, objects, size)

    async def update(self, namespace: Namespace, identifier: str, changes: BucketChanges) -> Bucket:
        bucket = await self.get(namespace, identifier)
        checked = BucketChanges(
            bucket_name=names.bucket_name(changes.bucket_name) if changes.bucket_name else None,
            description=names.description(changes.description),
            metadata=changes.metadata,
        )
        updated = await self._buckets.update(
            namespace.namespace_id, bucket.bucket_id, checked, now=self._clock()
        )
        if updated is None:
            raise not_found(identifier)
        return updated

    async def delete(self, namespace: Namespace, identifier: str) -> Bucket:
        """Removes the bucket record; returns it as it was (for the deletion response)."""
        bucket = await self.get(namespace, identifier)
        if not await self._buckets.delete(namespace.namespace_id, bucket.bucket_id):
            raise not_found(identifier)
        return bucket
