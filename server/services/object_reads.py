"""Reading and listing objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bucketd.server.domain import aggregation, checksums
from bucketd.server.domain.aggregation import Aggregation
from bucketd.server.domain.filters import (
    StoredAs,
    list_filter,
    refuse_operator_fields,
    to_filter,
)
from bucketd.server.domain.listing import (
    ListQuery,
    PageRequest,
    SortRequest,
    decode_cursor,
    encode_cursor,
)
from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord
from bucketd.server.domain.query import AnyOf, Filter, Op, Where, all_of
from bucketd.server.domain.stored import ObjectStats
from bucketd.server.domain.user_json import json_safe
from bucketd.server.errors import InvalidArgument
from bucketd.server.services.blob_reads import BlobRead, open_read
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.objects import object_not_found
from bucketd.server.services.ports import BlobStorage, ObjectStore

Clock = Callable[[], datetime]
LIST_LIMIT = (20, 1000)
TOP_LEVEL = {
    "object_id": "object_id",
    "key_prefix": "key_prefix",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "content_hash": "content_hash",
    "blobs.property": "blobs.property",
    "blobs.type": "blobs.type",
    "blobs.details.hash": "blobs.sha256",
    "blobs.details.mime_type": "blobs.mime_type",
    "blobs.details.size_bytes": "blobs.size_bytes",
    "blobs.details.filename": "blobs.filename",
}
DEFAULT_SORT = SortRequest(field="created_at", descending=False)


def stored_field(name: str) -> str | None:
    """Public field -> stored path; user fields are reachable as `metadata.x` or plain `x`."""
    if name in TOP_LEVEL:
        return TOP_LEVEL[name]
    path = name.removeprefix("metadata.")
    if path and all(part.isidentifier() for part in path.split(".")):
        return f"metadata.{path}"
    return None


def aggregation_field(name: str) -> str | None:
    """Like stored_field, and "blobs" itself: a list to unwind, never a value to answer (a
    blob's record holds internal fields: storage keys, content ids)."""
    return "blobs" if name == "blobs" else stored_field(name)


def filter_field(name: str) -> str | StoredAs | None:
    """Like stored_field; a hash is shown labelled ("sha256:<hex>") and stored bare."""
    if name == "blobs.details.hash":
        return StoredAs("blobs.sha256", checksums.stored)
    return stored_field(name)


@dataclass(frozen=True)
class ObjectPage:
    results: list[ObjectRecord]
    stats: ObjectStats
    page: PageRequest
    next_cursor: str | None


def _next_cursor(found: list[ObjectRecord], page: PageRequest, sort: SortRequest) -> str | None:
    """After a full page: the last object (default sort, stable under inserts) or an offset."""
    if len(found) < page.limit:
        return None
    if sort != DEFAULT_SORT:
        return encode_cursor({"o": page.offset + page.limit})
    last = found[-1]
    return encode_cursor({"c": last.created_at.isoformat(), "i": last.object_id})


def _after(position: dict[str, Any]) -> Filter:
    """The objects after the cursor's one, in the default order (created_at, then id)."""
    try:
        created, object_id = datetime.fromisoformat(position["c"]), str(position["i"])
        # In UTC, as stored: a date that leaves years 1-9999 there cannot be a stored one.
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
    except (ValueError, KeyError, TypeError, OverflowError):
        raise InvalidArgument(
            "cursor: not a next_cursor that this API returned; send the next_cursor of the "
            "previous page unchanged, or none to start over",
            details={"field": "cursor"},
        ) from None
    return AnyOf(
        (
            Where("created_at", Op.GT, created),
            all_of(Where("created_at", Op.EQ, created), Where("object_id", Op.GT, object_id)),
        )
    )


class ObjectReads:
    def __init__(
        self,
        *,
        objects: ObjectStore,
        buckets: BucketService,
        storage: BlobStorage,
    ) -> None:
        self._objects = objects
        self._buckets = buckets
        self._storage = storage

    async def get(
        self, namespace: Namespace, bucket_identifier: str, object_identifier: str
    ) -> ObjectRecord:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        return await self._get(namespace, bucket, object_identifier)

    async def _get(self, namespace: Namespace, bucket: Bucket, identifier: str) -> ObjectRecord:
        record = await self._objects.get(namespace.namespace_id, bucket.bucket_id, identifier)
        if record is None:
            raise object_not_found(identifier, bucket)
        return record

    async def read_blob(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        object_identifier: str,
        blob: str,
        *,
        read_offset: int = 0,
        read_limit: int = 0,
    ) -> BlobRead:
        """A blob's bytes, or a range of them (see blob_reads.py); another namespace's object
        is as missing as one that never was."""
        record = await self.get(namespace, bucket_identifier, object_identifier)
        return open_read(
            record, blob, read_offset=read_offset, read_limit=read_limit, storage=self._storage
        )

    async def presigned_urls(self, record: ObjectRecord) -> dict[str, str]:
        """blob_id -> a time-limited download URL (1 hour), for blobs whose bytes are ours."""
        return {
            blob.blob_id: await self._storage.presigned_get(blob.storage_key)
            for blob in record.blobs
            if blob.storage_key
        }

    async def page(
        self, namespace: Namespace, bucket_identifier: str, request: ListQuery
    ) -> ObjectPage:
        refuse_operator_fields("select", list(request.select))
        refuse_operator_fields("sort.field", [request.sort_field or ""])
        bucket = await self._buckets.get(namespace, bucket_identifier)
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        names = [*TOP_LEVEL, request.sort_field or ""]
        sortable = {name: path for name in names if (path := stored_field(name))}
        sort = request.sort(allowed=sortable, default=DEFAULT_SORT)
        query = list_filter(request, filter_field, ["key_prefix", "object_id", "search_text"])
        stats = await self._objects.stats(namespace.namespace_id, bucket.bucket_id, query)
        position = decode_cursor(request.cursor) if request.cursor else {}
        if "c" in position:  # a keyset cursor: the page starts after that object
            if sort != DEFAULT_SORT or page.offset:
                raise InvalidArgument(
                    "cursor: works with the default sort and no offset or page",
                    details={"field": "cursor"},
                )
            query = all_of(query, _after(position))
        found, _ = await self._objects.page(
            namespace.namespace_id, bucket.bucket_id, query=query, sort=sort, page=page, count=False
        )
        return ObjectPage(found, stats, page, _next_cursor(found, page, sort))

    async def aggregate(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        spec: Aggregation,
        filters: dict[str, Any] | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Groups and their metrics ([{group, metrics}], total_groups) over the live objects
        that `filters` match; dates come back as ISO 8601 strings."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        query = to_filter(filters, filter_field)
        plan = aggregation.plan(spec, stored_field, unwindable=aggregation_field)
        found, total = await self._objects.aggregate(
            namespace.namespace_id, bucket.bucket_id, query, plan
        )
        return json_safe(found), total
