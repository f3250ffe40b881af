"""Deleting objects, buckets and namespaces.

An object goes at once: its record and claims; its contents are released (the janitor deletes
bytes nobody held for BUCKETD_BLOB_GRACE_SECONDS, so that a create reusing them at this very
moment keeps them). A bucket or a namespace record goes at once too, after its deletion task is
recorded; the task (services/purge.py) then deletes what it held, and survives a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bucketd.server.domain.contents import holder_ref
from bucketd.server.domain.models import Bucket, Namespace, Principal, SoftDeleteMarks
from bucketd.server.domain.tasks import TaskRecord, TaskType
from bucketd.server.errors import InvalidArgument
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.objects import object_not_found
from bucketd.server.services.ports import ClaimStore, ContentRegistry, ObjectStore
from bucketd.server.services.tasks import Tasks

Clock = Callable[[], datetime]
MAX_SOFT_DELETES = 5000
MAX_REASON = 500
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class SoftDeletion:
    """A bulk-soft-delete request, as the public docs bound it."""

    object_ids: list[str]
    reason: str | None = None
    lifecycle_state: str = "disabled"
    source: str = "bulk_purge"

    def check(self) -> None:
        if not 1 <= len(self.object_ids) <= MAX_SOFT_DELETES:
            raise InvalidArgument(
                f"object_ids: give 1 to {MAX_SOFT_DELETES} ids, got {len(self.object_ids)}",
                details={"field": "object_ids"},
            )
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise InvalidArgument(
                f"reason: at most {MAX_REASON} characters", details={"field": "reason"}
            )
        for name in ("lifecycle_state", "source"):
            if not _LABEL.fullmatch(getattr(self, name)):
                raise InvalidArgument(
                    f"{name}: lowercase letters, digits and _ (up to 32)", details={"field": name}
                )


@dataclass(frozen=True)
class BucketDeletion:
    """The public docs answer a bucket deletion with its task."""

    task: TaskRecord
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
        namespaces: NamespaceService,
        tasks: Tasks,
        clock: Clock,
    ) -> None:
        self._objects = objects
        self._claims = claims
        self._registry = registry
        self._buckets = buckets
        self._namespaces = namespaces
        self._tasks = tasks
        self._clock = clock

    async def delete_object(
        self, namespace: Namespace, bucket_identifier: str, object_identifier: str
    ) -> None:
        """Remove the record first, then its claims; then release what its blobs held."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        scope = (namespace.namespace_id, bucket.bucket_id)
        record = await self._objects.get(*scope, object_identifier)
        if record is None or not await self._objects.delete(*scope, record.object_id):
            raise object_not_found(object_identifier, bucket)
        await self._claims.release_claims(namespace.namespace_id, record.object_id, record.claims)
        refs = [holder_ref(record.object_id, blob.blob_id) for blob in record.blobs]
        refs += (record.write.refs if record.write else []) + record.releases
        await self._registry.release(namespace.namespace_id, refs, now=self._clock())

    async def soft_delete(
        self, namespace: Namespace, bucket_identifier: str, request: SoftDeletion
    ) -> list[str]:
        """Hide objects from get and list (bulk-soft-delete); their bytes stay held. Their
        claims go, so that their idempotency and unique keys are free again."""
        request.check()
        bucket = await self._buckets.get(namespace, bucket_identifier)
        marks = SoftDeleteMarks(
            soft_deleted_at=self._clock(),
            lifecycle_state=request.lifecycle_state,
            deletion_reason=request.reason,
            deletion_source=request.source,
        )
        hidden = await self._objects.soft_delete(
            namespace.namespace_id,
            bucket.bucket_id,
            list(dict.fromkeys(request.object_ids)),
            marks=marks,
        )
        for object_id in hidden:
            await self._claims.release_claims(namespace.namespace_id, object_id)
        return hidden

    async def delete_bucket(self, namespace: Namespace, bucket_identifier: str) -> BucketDeletion:
        """Record the deletion task, remove the bucket record; the task does the rest."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        usage = await self._buckets.usage(namespace, [bucket])
        task = await self._tasks.submit(
            namespace.organization_id,
            TaskType.DELETE_BUCKET,
            namespace_id=namespace.namespace_id,
            inputs={
                "namespace_id": namespace.namespace_id,
                "bucket_id": bucket.bucket_id,
                "bucket_name": bucket.bucket_name,
            },
        )
        await self._buckets.delete(namespace, bucket)
        count = usage[bucket.bucket_id].object_count if bucket.bucket_id in usage else 0
        return BucketDeletion(task, bucket, count)

    async def delete_namespace(
        self, principal: Principal, identifier: str
    ) -> tuple[TaskRecord, Namespace]:
        """Record the deletion task, remove the namespace record; the task deletes everything
        it held."""
        namespace = await self._namespaces.find(principal, identifier)
        task = await self._tasks.submit(
            principal.organization_id,
            TaskType.DELETE_NAMESPACE,
            namespace_id=namespace.namespace_id,
            inputs={
                "namespace_id": namespace.namespace_id,
                "namespace_name": namespace.namespace_name,
            },
        )
        await self._namespaces.remove(principal, namespace)
        return task, namespace
