"""Creating and changing objects: validate, claim, write the record, store the bytes, finish.

Order of writes (the design's rule): the record first (PROCESSING), then the bytes, then the
final status (DRAFT) — any failure on the way leaves the object FAILED with `error` set.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from bucketd.server.domain.batches import BatchFailure, BatchOutcome, check_batch_size
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord, SkippedBlob, StoredBlob
from bucketd.server.domain.object_plan import Limits, ObjectInput, ObjectPlan, plan_object
from bucketd.server.domain.objects import (
    STORED_STATUS,
    WRITING_STATUS,
    content_hash,
)
from bucketd.server.domain.uploads import UploadRecord
from bucketd.server.errors import BucketdError, FailedPrecondition, NotFound
from bucketd.server.services.blob_ingest import BlobIngester
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.object_claims import ObjectClaims
from bucketd.server.services.ports import BlobStore, BucketStore, ObjectStore, UploadStore
from bucketd.server.services.upload_refs import resolve_uploads

log = logging.getLogger("bucketd.objects")

Clock = Callable[[], datetime]


async def collect_unreferenced(
    objects: ObjectStore, blobs: BlobStore, namespace_id: str, storage_keys: set[str]
) -> None:
    """Delete the S3 bytes among `storage_keys` that no object of the namespace references."""
    for key in storage_keys:
        if await objects.references(namespace_id, key) == 0:
            await blobs.delete(key)


def object_not_found(identifier: str) -> NotFound:
    return NotFound(
        f"Object '{identifier}' not found", details={"resource": "object", "id": identifier}
    )


class ObjectService:
    def __init__(
        self,
        *,
        objects: ObjectStore,
        buckets: BucketService,
        bucket_store: BucketStore,
        blobs: BlobStore,
        uploads: UploadStore,
        ingester: BlobIngester,
        limits: Limits,
        clock: Clock,
    ) -> None:
        self._uploads = uploads
        self._objects = objects
        self._claims = ObjectClaims(objects)
        self._buckets = buckets
        self._bucket_store = bucket_store
        self._blobs = blobs
        self._ingester = ingester
        self._limits = limits
        self._clock = clock

    async def create(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        request: ObjectInput,
        *,
        confirming: UploadRecord | None = None,
    ) -> ObjectRecord:
        """`confirming`: the upload being confirmed, usable before it is COMPLETED."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        plan = plan_object(bucket, request, self._limits)
        plan = await resolve_uploads(self._uploads, namespace, bucket, plan, confirming)
        object_id = new_id("obj_")
        if request.idempotency_key:
            holder = await self._claims.idempotency_holder(
                namespace, bucket, request.idempotency_key, object_id
            )
            if holder is not None:
                return await self._claims.wait_for(namespace, bucket, holder)
        existing = await self._claims.unique_key_holder(
            namespace, bucket, plan, request.policy, object_id
        )
        if existing is not None:
            return await self._rewrite(namespace, bucket, existing, plan, request.skip_duplicates)
        return await self._write_new(namespace, bucket, object_id, plan, request.skip_duplicates)

    async def create_batch(
        self, namespace: Namespace, bucket_identifier: str, requests: list[ObjectInput]
    ) -> BatchOutcome[ObjectRecord]:
        """Each object created on its own: a failure is reported with its index, not raised."""
        check_batch_size("objects", len(requests))
        outcome: BatchOutcome[ObjectRecord] = BatchOutcome()
        for index, request in enumerate(requests):
            try:
                outcome.succeeded.append(await self.create(namespace, bucket_identifier, request))
            except BucketdError as error:
                outcome.failed.append(BatchFailure(index, error))
        return outcome

    async def _write_new(
        self,
        namespace: Namespace,
        bucket: Bucket,
        object_id: str,
        plan: ObjectPlan,
        skip_duplicates: bool,
    ) -> ObjectRecord:
        now = self._clock()
        record = ObjectRecord(
            object_id=object_id,
            namespace_id=namespace.namespace_id,
            bucket_id=bucket.bucket_id,
            key_prefix=plan.key_prefix,
            blobs=[],
            metadata=plan.metadata,
            metadata_layout=plan.metadata_layout,
            status=WRITING_STATUS,
            error=None,
            content_hash=None,
            skipped=[],
            created_at=now,
            updated_at=now,
        )
        await self._objects.insert(record)
        return await self._store(namespace, bucket, record, plan, skip_duplicates, previous=None)

    async def _rewrite(
        self,
        namespace: Namespace,
        bucket: Bucket,
        existing: ObjectRecord,
        plan: ObjectPlan,
        skip_duplicates: bool,
    ) -> ObjectRecord:
        """policy=update/upsert on an existing unique key: new blobs and metadata replace old."""
        return await self._store(
            namespace, bucket, existing, plan, skip_duplicates, previous=existing
        )

    async def _store(
        self,
        namespace: Namespace,
        bucket: Bucket,
        record: ObjectRecord,
        plan: ObjectPlan,
        skip_duplicates: bool,
        *,
        previous: ObjectRecord | None,
    ) -> ObjectRecord:
        stored: list[StoredBlob] = []
        skipped: list[SkippedBlob] = []
        try:
            for planned in plan.blobs:
                blob = await self._ingester.ingest(namespace.namespace_id, planned)
                holder = (
                    await self._objects.holder_of_hash(
                        namespace.namespace_id, bucket.bucket_id, blob.hash
                    )
                    if skip_duplicates and blob.hash
                    else None
                )
                if holder is not None and holder != record.object_id:
                    skipped.append(
                        SkippedBlob(
                            blob_index=planned.index,
                            property=planned.property,
                            hash=blob.hash or "",
                            existing_object_id=holder,
                        )
                    )
                    continue
                stored.append(blob)
            final = dataclasses.replace(
                record,
                blobs=stored,
                skipped=skipped,
                status=STORED_STATUS,
                error=None,
                content_hash=content_hash(stored),
                key_prefix=plan.key_prefix,
                metadata=plan.metadata,
                metadata_layout=plan.metadata_layout,
                updated_at=self._clock(),
            )
            await self._objects.replace(final)
        except BucketdError as error:
            await self._fail(record, error.message, stored)
            raise
        except Exception as error:
            await self._fail(record, f"internal error: {type(error).__name__}", stored)
            raise
        delta_objects = 0 if previous else 1
        delta_bytes = final.size_bytes - (previous.size_bytes if previous else 0)
        await self._bucket_store.add_usage(
            namespace.namespace_id,
            bucket.bucket_id,
            objects=delta_objects,
            size_bytes=delta_bytes,
            now=final.updated_at,
        )
        if previous is not None:
            await self._collect(namespace.namespace_id, previous.blobs)
        return final

    async def _fail(self, record: ObjectRecord, message: str, stored: list[StoredBlob]) -> None:
        """Mark the object FAILED (never COMPLETED without bytes); drop bytes nobody holds."""
        try:
            await self._objects.set_failed(
                record.namespace_id, record.object_id, message, now=self._clock()
            )
            await self._collect(record.namespace_id, stored)
        except BucketdError as error:
            log.warning("could not mark %s FAILED: %s", record.object_id, error.message)

    async def _collect(self, namespace_id: str, blobs: list[StoredBlob]) -> None:
        keys = {blob.storage_key for blob in blobs if blob.storage_key}
        await collect_unreferenced(self._objects, self._blobs, namespace_id, keys)

    async def update(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        object_identifier: str,
        request: ObjectInput,
        *,
        replace_blobs: bool,
    ) -> ObjectRecord:
        """PUT/PATCH: key_prefix and metadata (merged); blobs replaced when given (PUT)."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        existing = await self._objects.get(
            namespace.namespace_id, bucket.bucket_id, object_identifier
        )
        if existing is None:
            raise object_not_found(object_identifier)
        if existing.status == WRITING_STATUS:
            raise FailedPrecondition(f"Object {object_identifier} is being written; retry")
        merged = dataclasses.replace(
            request,
            key_prefix=request.key_prefix
            if request.key_prefix is not None
            else existing.key_prefix,
            metadata={
                **existing.metadata,
                **(request.metadata or {}),
                **(request.user_fields or {}),
            },
            user_fields=None,
        )
        plan = plan_object(bucket, merged, self._limits)
        plan = dataclasses.replace(plan, metadata_layout=existing.metadata_layout)
        plan = await resolve_uploads(self._uploads, namespace, bucket, plan, None)
        if not (replace_blobs and request.blobs):
            updated = dataclasses.replace(
                existing,
                key_prefix=plan.key_prefix,
                metadata=plan.metadata,
                updated_at=self._clock(),
            )
            await self._objects.replace(updated)
            return updated
        return await self._store(
            namespace, bucket, existing, plan, request.skip_duplicates, previous=existing
        )
