"""The deletion tasks' work: everything a bucket or a namespace holds, records and bytes.

Each step is idempotent and scoped by namespace_id, so a task that dies midway is run again
from the start by a janitor. A bucket's contents may be shared with other buckets of its
namespace (deduplication), so a bucket deletion only releases them (the janitor deletes them
after BUCKETD_BLOB_GRACE_SECONDS); a namespace deletion deletes its contents outright, and then
every stored byte under its key prefixes, multipart uploads in flight included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bucketd.server.domain.contents import upload_ref
from bucketd.server.domain.status import Status
from bucketd.server.domain.tasks import TaskOutcome, TaskRecord
from bucketd.server.domain.uploads import namespace_prefix
from bucketd.server.services.drafts import drop_pending
from bucketd.server.services.ports import BlobStorage, ContentRegistry, PurgeStore
from bucketd.server.services.tasks import Progress

Clock = Callable[[], datetime]


class Purge:
    def __init__(
        self, *, store: PurgeStore, registry: ContentRegistry, storage: BlobStorage, clock: Clock
    ) -> None:
        self._store = store
        self._registry = registry
        self._storage = storage
        self._clock = clock

    async def delete_bucket(self, task: TaskRecord, progress: Progress) -> TaskOutcome:
        namespace_id, bucket_id = task.inputs["namespace_id"], task.inputs["bucket_id"]
        await self._store.delete_bucket(namespace_id, bucket_id)
        await self._records(namespace_id, bucket_id, progress)
        return TaskOutcome({"bucket_id": bucket_id, **progress.data})

    async def delete_namespace(self, task: TaskRecord, progress: Progress) -> TaskOutcome:
        namespace_id = task.inputs["namespace_id"]
        for bucket_id in await self._store.bucket_ids(namespace_id):
            await self._records(namespace_id, bucket_id, progress)
            await self._store.delete_bucket(namespace_id, bucket_id)
            progress.add(buckets_deleted=1)
        await self._records(namespace_id, None, progress)  # whatever a bucket no longer names
        progress.add(contents_deleted=await self._store.delete_contents(namespace_id))
        for prefix in (f"{namespace_id}/", namespace_prefix(task.organization_id, namespace_id)):
            progress.add(files_deleted=await self._storage.delete_prefix(prefix))
        return TaskOutcome({"namespace_id": namespace_id, **progress.data})

    async def _records(self, namespace_id: str, bucket_id: str | None, progress: Progress) -> None:
        """Objects (their writes in flight aborted), uploads (unconfirmed files deleted) and
        claims; what they held is released."""
        while batch := await self._store.object_batch(namespace_id, bucket_id):
            for _, _, write in batch:
                if write is not None:
                    await drop_pending(self._storage, self._registry, write.pending)
            refs = [ref for _, held, _ in batch for ref in held]
            await self._registry.release(namespace_id, refs, now=self._clock())
            deleted = await self._store.delete_objects(namespace_id, [oid for oid, _, _ in batch])
            progress.add(objects_deleted=deleted)
        while uploads := await self._store.upload_batch(namespace_id, bucket_id):
            refs = [upload_ref(upload_id) for upload_id, _, _ in uploads]
            await self._registry.release(namespace_id, refs, now=self._clock())
            for _, key, status in uploads:
                if status != Status.COMPLETED:  # a completed upload's file is a content now
                    await self._storage.delete(key)
            ids = [upload_id for upload_id, _, _ in uploads]
            progress.add(uploads_deleted=await self._store.delete_uploads(namespace_id, ids))
        await self._store.delete_claims(namespace_id, bucket_id)
