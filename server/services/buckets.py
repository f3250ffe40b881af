"""Buckets: schema'd containers of objects within a namespace.

A bucket's object_count, total_size_bytes and last_upload_at are computed from its objects when
it is read (one aggregation): exact, never a counter that drifts, and free for the writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bucketd.server.domain import names
from bucketd.server.domain.filters import fields_or_metadata, list_filter
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.listing import ListQuery, PageRequest, SortRequest
from bucketd.server.domain.models import Bucket, BucketChanges, Namespace
from bucketd.server.domain.schema import BucketSchema, changed_unique_key
from bucketd.server.domain.stored import Usage
from bucketd.server.domain.user_json import check_user_json
from bucketd.server.errors import Aborted, InvalidArgument, NotFound
from bucketd.server.services.cache import TtlCache
from bucketd.server.services.ports import BucketStore, ObjectStore

Clock = Callable[[], datetime]

FILTERABLE = {
    "bucket_id": "bucket_id",
    "bucket_name": "bucket_name",
    "description": "description",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
SORTABLE = dict(FILTERABLE)  # usage is computed on read, so it sorts nothing
DEFAULT_SORT = SortRequest(field="created_at", descending=False)
LIST_LIMIT = (10, 1000)


def not_found(identifier: str, namespace: Namespace) -> NotFound:
    """Names the namespace looked in: the usual cause is a client sending another one (or
    none, and getting the default)."""
    return NotFound(
        f"Bucket '{identifier}' not found in namespace '{namespace.namespace_name}'",
        details={"resource": "bucket", "id": identifier},
    )


class BucketGone(NotFound):
    """The bucket went before the object's first byte: nothing of the object was kept."""


class BucketChanged(Aborted):
    """The bucket changed (its schema, its name...) between the object's plan and its record:
    nothing of the object was kept; planned again against the bucket as it is, it may pass."""


def same_bucket(current: Bucket, planned: Bucket) -> bool:
    """Whether an object planned against `planned` fits `current` as it is (every change of a
    bucket sets its updated_at)."""
    return (current.bucket_name, current.updated_at, current.bucket_schema, current.unique_key) == (
        planned.bucket_name,
        planned.updated_at,
        planned.bucket_schema,
        planned.unique_key,
    )


def moved_since(
    current: Bucket | None, planned: Bucket, namespace: Namespace
) -> BucketGone | BucketChanged | None:
    """Why a write planned against `planned` must not go on, `current` being the bucket as it
    is now (None: gone), or None when they are the same bucket."""
    if current is None or current.bucket_id != planned.bucket_id:
        gone = not_found(planned.bucket_name, namespace)
        return BucketGone(gone.message, details=gone.details)
    if same_bucket(current, planned):
        return None
    return BucketChanged(
        f"Bucket '{planned.bucket_name}' changed while the object was being written: "
        "nothing was kept; retry",
        details={"resource": "bucket", "id": planned.bucket_id},
    )


@dataclass(frozen=True)
class BucketPage:
    results: list[Bucket]
    total: int
    page: PageRequest
    total_objects: int
    total_size_bytes: int


@dataclass(frozen=True, kw_only=True)
class BucketUpdate:
    """A PUT or PATCH: None leaves a field as it is."""

    bucket_name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    bucket_schema: dict[str, Any] | None = None
    unique_key: dict[str, Any] | None = None
    force_schema_break: bool = False


@dataclass(frozen=True)
class NewBucket:
    name: str
    description: str | None
    bucket_schema: dict[str, Any]
    unique_key: dict[str, Any] | None
    metadata: dict[str, Any]


class BucketService:
    def __init__(
        self,
        *,
        buckets: BucketStore,
        objects: ObjectStore,
        clock: Clock,
        max_metadata_bytes: int = 1024 * 1024,
        cache: TtlCache[tuple[str, str], Bucket] | None = None,
    ) -> None:
        self._buckets = buckets
        self._objects = objects
        self._max_metadata_bytes = max_metadata_bytes
        self._clock = clock
        self._cache: TtlCache[tuple[str, str], Bucket] = cache or TtlCache(0)

    async def create(self, namespace: Namespace, new: NewBucket) -> Bucket:
        schema = BucketSchema.parse(new.bucket_schema)
        check_user_json("metadata", new.metadata, max_bytes=self._max_metadata_bytes)
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

    async def get(self, namespace: Namespace, identifier: str, *, cached: bool = False) -> Bucket:
        """`cached`: the bucket as this instance read it lately, maybe stale — only for a write
        that checks it again once its record is written (Drafts.begin), as a create does."""
        key = (namespace.namespace_id, identifier)
        if cached and (hit := self._cache.get(key)) is not None:
            return hit
        bucket = await self._buckets.find(namespace.namespace_id, identifier)
        if bucket is None:
            raise not_found(identifier, namespace)
        self._cache.put(key, bucket)
        return bucket

    def forget(self, bucket_id: str) -> None:
        """A bucket changed or went: the next cached read asks MongoDB."""
        self._cache.drop_where(lambda cached: cached.bucket_id == bucket_id)

    async def page(self, namespace: Namespace, request: ListQuery) -> BucketPage:
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        sort = request.sort(allowed=SORTABLE, default=DEFAULT_SORT)
        query = list_filter(
            request, fields_or_metadata(FILTERABLE), ["bucket_id", "bucket_name", "description"]
        )
        found, total = await self._buckets.page(
            namespace.namespace_id, query=query, sort=sort, page=page
        )
        everything = await self._objects.usage(
            namespace.namespace_id, await self._buckets.ids(namespace.namespace_id, query)
        )
        objects = sum(usage.object_count for usage in everything.values())
        size = sum(usage.total_size_bytes for usage in everything.values())
        return BucketPage(await self.with_usage(namespace, found), total, page, objects, size)

    async def usage(self, namespace: Namespace, buckets: list[Bucket]) -> dict[str, Usage]:
        return await self._objects.usage(namespace.namespace_id, [b.bucket_id for b in buckets])

    async def with_usage(self, namespace: Namespace, buckets: list[Bucket]) -> list[Bucket]:
        """The buckets with what they hold (object_count, total_size_bytes, last_upload_at)."""
        usage = await self.usage(namespace, buckets)
        return [
            dataclasses.replace(
                bucket,
                object_count=usage.get(bucket.bucket_id, Usage()).object_count,
                total_size_bytes=usage.get(bucket.bucket_id, Usage()).total_size_bytes,
                last_upload_at=usage.get(bucket.bucket_id, Usage()).last_upload_at,
            )
            for bucket in buckets
        ]

    async def view(self, namespace: Namespace, identifier: str) -> Bucket:
        """The bucket as the API shows it, usage included."""
        return (await self.with_usage(namespace, [await self.get(namespace, identifier)]))[0]

    async def update(self, namespace: Namespace, identifier: str, changes: BucketUpdate) -> Bucket:
        bucket = await self.get(namespace, identifier)
        check_user_json("metadata", changes.metadata or {}, max_bytes=self._max_metadata_bytes)
        schema = _new_schema(bucket, changes)
        unique_key = None
        if changes.unique_key is not None:
            unique_key = changed_unique_key(bucket.unique_key, changes.unique_key)
        key = unique_key or bucket.unique_key
        if schema is not None and key is not None:
            schema.check_unique_key(key)  # the key's fields stay scalar fields of the schema
        checked = BucketChanges(
            bucket_name=names.bucket_name(changes.bucket_name) if changes.bucket_name else None,
            description=names.description(changes.description),
            metadata=changes.metadata,
            bucket_schema=schema,
            unique_key=unique_key,
        )
        self.forget(bucket.bucket_id)
        updated = await self._buckets.update(
            namespace.namespace_id, bucket.bucket_id, checked, now=self._clock()
        )
        if updated is None:
            raise not_found(identifier, namespace)
        return (await self.with_usage(namespace, [updated]))[0]

    async def delete(self, namespace: Namespace, bucket: Bucket) -> None:
        """Removes the bucket record (services/deletions.py removes what it held)."""
        self.forget(bucket.bucket_id)
        if not await self._buckets.delete(namespace.namespace_id, bucket.bucket_id):
            raise not_found(bucket.bucket_id, namespace)


def _new_schema(bucket: Bucket, changes: BucketUpdate) -> BucketSchema | None:
    """The requested schema, checked; one that stored objects may not fit needs
    force_schema_break (422 naming what breaks)."""
    if changes.bucket_schema is None:
        return None
    schema = BucketSchema.parse(changes.bucket_schema)
    breaks = bucket.bucket_schema.breaks(schema)
    if breaks and not changes.force_schema_break:
        raise InvalidArgument(
            f"bucket_schema: {'; '.join(breaks)}: objects stored under the current schema may "
            "not fit; send ?force_schema_break=true to change it anyway",
            details={"field": "bucket_schema"},
        )
    return schema
