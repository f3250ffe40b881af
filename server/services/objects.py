"""Creating and changing objects: validate, claim, write the record, store the bytes, finish.

Order of writes (the design's rule): the record first (PROCESSING), then the bytes, then the
final status (DRAFT) — any failure on the way leaves the object FAILED with `error` set.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from server.domain import mime
from server.domain.blob_data import StoredContent, UploadRef
from server.domain.ids import new_id
from server.domain.models import Bucket, Namespace, ObjectRecord, SkippedBlob, StoredBlob
from server.domain.object_plan import Limits, ObjectInput, ObjectPlan, plan_object
from server.domain.objects import (
    STORED_STATUS,
    WRITING_STATUS,
    content_hash,
    unique_key_value,
)
from server.domain.uploads import UploadRecord
from server.errors import AlreadyExists, BucketdError, FailedPrecondition, InvalidArgument, NotFound
from server.services.blob_ingest import BlobIngester
from server.services.buckets import BucketService
from server.services.ports import BlobStore, BucketStore, ObjectStore, UploadStore

log = logging.getLogger("bucketd.objects")

Clock = Callable[[], datetime]
IDEMPOTENCY_WAIT_SECONDS = 10.0
POLICIES = frozenset({"insert", "update", "upsert"})


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
        plan = await self._resolve_uploads(namespace, bucket, plan, confirming)
        object_id = new_id("obj_")
        if request.idempotency_key:
            claim = f"idem:{bucket.bucket_id}:{request.idempotency_key}"
            holder = await self._objects.claim(
                claim,
                namespace_id=namespace.namespace_id,
                bucket_id=bucket.bucket_id,
                object_id=object_id,
            )
            if holder is not None:
                return await self._wait_for(namespace, bucket, holder)
        existing = await self._apply_unique_key(namespace, bucket, plan, request.policy, object_id)
        if existing is not None:
            return await self._rewrite(namespace, bucket, existing, plan, request.skip_duplicates)
        return await self._write_new(namespace, bucket, object_id, plan, request.skip_duplicates)

    async def _resolve_uploads(
        self,
        namespace: Namespace,
        bucket: Bucket,
        plan: ObjectPlan,
        confirming: UploadRecord | None,
    ) -> ObjectPlan:
        """Each upload_id must name a COMPLETED upload of this bucket; else 400 naming it."""
        blobs = []
        for planned in plan.blobs:
            resolved = planned
            if isinstance(planned.data, UploadRef):
                record = await self._completed_upload(
                    namespace, bucket, planned.data.upload_id, planned.index, confirming
                )
                where = f"blobs[{planned.index}].upload_id"
                mime.check_fits(where, planned.type, record.content_type)
                assert record.storage_key and record.file_hash, "COMPLETED uploads are adopted"
                content = StoredContent(
                    storage_key=record.storage_key,
                    sha256=record.file_hash,
                    size_bytes=record.file_size_bytes or 0,
                    mime_type=record.content_type,
                    filename=record.filename,
                )
                resolved = dataclasses.replace(planned, data=content)
            blobs.append(resolved)
        return dataclasses.replace(plan, blobs=blobs)

    async def _completed_upload(
        self,
        namespace: Namespace,
        bucket: Bucket,
        upload_id: str,
        index: int,
        confirming: UploadRecord | None,
    ) -> UploadRecord:
        if confirming is not None and confirming.upload_id == upload_id:
            return confirming
        where = f"blobs[{index}].upload_id"
        record = await self._uploads.get(namespace.namespace_id, bucket.bucket_id, upload_id)
        if record is None:
            raise InvalidArgument(
                f"{where}: upload {upload_id!r} not found in this bucket", details={"field": where}
            )
        if record.status != "COMPLETED":
            raise InvalidArgument(
                f"{where}: upload {upload_id!r} is {record.status}; only a confirmed "
                "(COMPLETED) upload can be used",
                details={"field": where},
            )
        return record

    async def _apply_unique_key(
        self,
        namespace: Namespace,
        bucket: Bucket,
        plan: ObjectPlan,
        policy: str | None,
        object_id: str,
    ) -> ObjectRecord | None:
        """None to create `object_id`; else the existing object the policy says to update."""
        if not bucket.unique_key:
            return None
        chosen = policy or bucket.unique_key.get("default_policy")
        if chosen not in POLICIES:
            raise InvalidArgument(
                "policy: the bucket has a unique_key; pass ?policy=insert|update|upsert or give "
                "the bucket a unique_key.default_policy",
                details={"field": "policy"},
            )
        claim = f"ukey:{bucket.bucket_id}:{unique_key_value(bucket.unique_key, plan.metadata)}"
        holder = (
            await self._objects.claim(
                claim,
                namespace_id=namespace.namespace_id,
                bucket_id=bucket.bucket_id,
                object_id=object_id,
            )
            if chosen != "update"
            else await self._objects.find_claim(claim)
        )
        if holder is None:
            if chosen == "update":
                raise NotFound(
                    "policy=update: no object has this unique key yet",
                    details={"resource": "object"},
                )
            return None
        if chosen == "insert":
            raise AlreadyExists(
                f"An object with this unique key exists: {holder}",
                details={"resource": "object", "id": holder},
            )
        record = await self._objects.get(namespace.namespace_id, bucket.bucket_id, holder)
        if record is None:
            raise FailedPrecondition("The object holding this unique key is being written; retry")
        return record

    async def _wait_for(self, namespace: Namespace, bucket: Bucket, object_id: str) -> ObjectRecord:
        """The object another request (same idempotency key) creates; it may still be writing."""
        delay = 0.02
        deadline = asyncio.get_running_loop().time() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            record = await self._objects.get(namespace.namespace_id, bucket.bucket_id, object_id)
            if record is not None and record.status != WRITING_STATUS:
                return record
            if asyncio.get_running_loop().time() > deadline:
                raise FailedPrecondition(
                    f"Object {object_id} with this idempotency_key is still being written; retry"
                )
            await asyncio.sleep(delay)  # another request is writing it: back off, then look again
            delay = min(delay * 2, 0.5)

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
        plan = await self._resolve_uploads(namespace, bucket, plan, None)
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
