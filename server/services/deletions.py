"""Deleting objects and buckets: the records and their claims go; their contents are released.

Bytes are never deleted here: a released content is deleted by the janitor once nobody has held
it for the grace period (BUCKETD_BLOB_GRACE_SECONDS), so that a create reusing the same bytes at
this very moment keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bucketd.server.domain.contents import holder_ref
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Bucket, Namespace
from bucketd.server.domain.status import Status
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.objects import object_not_found
from bucketd.server.services.ports import ClaimStore, ContentRegistry, ObjectStore

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class BucketDeletion:
    """The reference answers a bucket deletion as a task."""

    task_id: str
    status: Status
    bucket: Bucket
    object_count: int


class Deletions:
    def __init__(
        self,
        *,
        objects: ObjectStore,
        claims: ClaimStore,
        registry: ContentRegistry,
        buckets: BucketService,
        clock: Clock,
    ) -> None:
        self._objects = objects
        self._claims = claims
        self._registry = registry
        self._buckets = buckets
        self._clock = clock

    async def delete_object(
        self, namespace: Namespace, bucket_identifier: str, object_identifier: str
    ) -> None:
        """Remove the record first, then its claims; then release what its blobs held."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        scope = (namespace.namespace_id, bucket.bucket_id)
        record = await self._objects.get(*scope, object_identifier)
        if record is None or not await self._objects.delete(*scope, record.object_id):
            raise object_not_found(object_identifier)
        await self._claims.release_claims(namespace.namespace_id, record.object_id)
        refs = [holder_ref(record.object_id, blob.blob_id) for blob in record.blobs]
        refs += (record.write.refs if record.write else []) + record.releases
        await self._registry.release(namespace.namespace_id, refs, now=self._clock())

    async def delete_bucket(self, namespace: Namespace, bucket_identifier: str) -> BucketDeletion:
        """Delete the bucket, then its objects and claims; release what they held."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        usage = await self._buckets.usage(namespace, [bucket])
        await self._buckets.delete(namespace, bucket)
        refs = await self._objects.bucket_refs(namespace.namespace_id, bucket.bucket_id)
        await self._objects.delete_bucket(namespace.namespace_id, bucket.bucket_id)
        await self._claims.delete_bucket_claims(namespace.namespace_id, bucket.bucket_id)
        await self._registry.release(namespace.namespace_id, refs, now=self._clock())
        count = usage[bucket.bucket_id].object_count if bucket.bucket_id in usage else 0
        return BucketDeletion(new_id("task_"), Status.COMPLETED, bucket, count)
