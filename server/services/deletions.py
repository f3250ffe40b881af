"""Deleting objects and buckets: the records, their claims, and the bytes nobody else holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Bucket, Namespace
from bucketd.server.domain.status import Status
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.objects import collect_unreferenced, object_not_found
from bucketd.server.services.ports import BlobStore, BucketStore, ObjectStore

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class BucketDeletion:
    """The reference answers a bucket deletion as a task."""

    task_id: str
    status: Status
    bucket: Bucket


class Deletions:
    def __init__(
        self,
        *,
        objects: ObjectStore,
        buckets: BucketService,
        bucket_store: BucketStore,
        blobs: BlobStore,
        clock: Clock,
    ) -> None:
        self._objects = objects
        self._buckets = buckets
        self._bucket_store = bucket_store
        self._blobs = blobs
        self._clock = clock

    async def delete_object(
        self, namespace: Namespace, bucket_identifier: str, object_identifier: str
    ) -> None:
        """Remove the record, its claims and the S3 bytes no other object references."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        record = await self._objects.get(
            namespace.namespace_id, bucket.bucket_id, object_identifier
        )
        if record is None or not await self._objects.delete(
            namespace.namespace_id, bucket.bucket_id, record.object_id
        ):
            raise object_not_found(object_identifier)
        await self._objects.release(namespace.namespace_id, record.object_id)
        if record.status not in {Status.FAILED, Status.PROCESSING}:
            await self._bucket_store.add_usage(
                namespace.namespace_id,
                bucket.bucket_id,
                objects=-1,
                size_bytes=-record.size_bytes,
                now=self._clock(),
            )
        keys = {blob.storage_key for blob in record.blobs if blob.storage_key}
        await collect_unreferenced(self._objects, self._blobs, namespace.namespace_id, keys)

    async def delete_bucket(self, namespace: Namespace, bucket_identifier: str) -> BucketDeletion:
        """Delete the bucket, then its objects and the bytes only they referenced."""
        bucket = await self._buckets.delete(namespace, bucket_identifier)
        keys = await self._objects.bucket_storage_keys(namespace.namespace_id, bucket.bucket_id)
        await self._objects.delete_bucket(namespace.namespace_id, bucket.bucket_id)
        await collect_unreferenced(self._objects, self._blobs, namespace.namespace_id, keys)
        return BucketDeletion(task_id=new_id("task_"), status=Status.COMPLETED, bucket=bucket)
