"""Confirming presigned uploads: verify the file, hash and adopt its bytes, create the object.

Large files and `async=true` finish in the background under a lease kept in MongoDB, so that
another server instance's sweep finishes the work if this one dies; the same sweep expires
uploads never confirmed. Every state change is a conditional single-document update.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bucketd.server.domain.batches import check_batch_size
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Namespace
from bucketd.server.domain.object_plan import BlobInput, ObjectInput
from bucketd.server.domain.status import Status
from bucketd.server.domain.stored import Head
from bucketd.server.domain.uploads import UploadRecord
from bucketd.server.errors import BucketdError, FailedPrecondition, NotFound
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.ports import NamespaceStore, UploadBlobStore, UploadStore
from bucketd.server.services.uploads import UploadLimits, upload_not_found

log = logging.getLogger("bucketd.uploads")
Clock = Callable[[], datetime]


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """One item of a batch confirm."""

    upload_id: str
    etag: str | None = None
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class ConfirmOutcome:
    upload_id: str
    status: Status
    task_id: str | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class BatchConfirmation:
    task_id: str
    status: Status
    outcomes: list[ConfirmOutcome]


class UploadConfirmations:
    def __init__(
        self,
        *,
        uploads: UploadStore,
        blobs: UploadBlobStore,
        buckets: BucketService,
        namespaces: NamespaceStore,
        objects: ObjectService,
        limits: UploadLimits,
        clock: Clock,
    ) -> None:
        self._uploads = uploads
        self._blobs = blobs
        self._buckets = buckets
        self._namespaces = namespaces
        self._objects = objects
        self._limits = limits
        self._clock = clock
        self._tasks: set[asyncio.Task[UploadRecord]] = set()

    async def confirm(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        upload_id: str,
        *,
        etag: str | None,
        size: int | None,
        run_async: bool,
    ) -> UploadRecord:
        """Verify the uploaded file; finish now, or in the background (async or large files)."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        record = await self._uploads.get(namespace.namespace_id, bucket.bucket_id, upload_id)
        if record is None:
            raise upload_not_found(upload_id)
        if record.status in {Status.COMPLETED, Status.PROCESSING}:
            return record  # confirming again answers the same result
        head = await self._verify(record, etag=etag, size=size)
        task_id = new_id("task_")
        now = self._clock()
        claimed = await self._uploads.transition(
            upload_id,
            when={"status": Status.PENDING},
            changes={
                "status": Status.PROCESSING,
                "task_id": task_id,
                "lease_until": now + self._limits.lease,
                "verified_at": now,
                "etag": head.etag,
            },
        )
        if claimed is None:  # somebody else confirmed it first
            latest = await self._uploads.get(namespace.namespace_id, bucket.bucket_id, upload_id)
            return latest or record
        large = (claimed.file_size_bytes or 0) >= self._limits.async_threshold_bytes
        if run_async or large:
            self._spawn(claimed)
            return claimed
        return await self.finish(claimed, raise_errors=True)

    async def confirm_batch(
        self, namespace: Namespace, bucket_identifier: str, items: list[Confirmation]
    ) -> BatchConfirmation:
        """Always in the background; an upload that cannot start is reported, not raised."""
        check_batch_size("confirmations", len(items))
        outcomes = []
        for item in items:
            try:
                record = await self.confirm(
                    namespace,
                    bucket_identifier,
                    item.upload_id,
                    etag=item.etag,
                    size=item.size,
                    run_async=True,
                )
                outcomes.append(ConfirmOutcome(item.upload_id, record.status, record.task_id))
            except BucketdError as error:
                outcomes.append(ConfirmOutcome(item.upload_id, Status.FAILED, None, error.message))
        return BatchConfirmation(
            task_id=new_id("task_"), status=Status.PROCESSING, outcomes=outcomes
        )

    async def _verify(self, record: UploadRecord, *, etag: str | None, size: int | None) -> Head:
        """The checks that keep an upload PENDING when they fail; each says what is wrong."""
        if record.status != Status.PENDING:
            raise FailedPrecondition(
                f"Upload '{record.upload_id}' is {record.status}: it cannot be confirmed",
                details={"field": "upload_id"},
            )
        if self._clock() >= record.expires_at:
            raise FailedPrecondition(
                f"Upload '{record.upload_id}' expired at {record.expires_at:%Y-%m-%dT%H:%M:%SZ}",
                details={"field": "upload_id"},
            )
        head = await self._blobs.head(record.s3_key)
        if head is None:
            raise FailedPrecondition(
                "Nothing was uploaded: PUT the file to the presigned_url first",
                details={"field": "upload_id"},
            )
        if etag is not None and etag.strip('"') != head.etag:
            raise FailedPrecondition(
                f"etag {etag!r} does not match the uploaded file's ETag {head.etag!r}",
                details={"field": "etag"},
            )
        for name, expected in (
            ("file_size_bytes", size),
            ("file_size_bytes", record.file_size_bytes),
        ):
            if expected is not None and expected != head.size_bytes:
                raise FailedPrecondition(
                    f"{name} {expected} does not match the uploaded size {head.size_bytes}",
                    details={"field": name},
                )
        if head.content_type and head.content_type.split(";")[0] != record.content_type:
            raise FailedPrecondition(
                f"the file was uploaded as {head.content_type}, "
                f"not as the signed {record.content_type}",
                details={"field": "content_type"},
            )
        return head

    async def finish(self, record: UploadRecord, *, raise_errors: bool = False) -> UploadRecord:
        """Hash and adopt the bytes, create the object, COMPLETED (or FAILED with a message).

        Safe to run again after a crash (the sweep does): the object is created under an
        idempotency key derived from the upload, and the uploaded file is removed last.
        """
        try:
            stored = await self._blobs.adopt(
                record.s3_key, namespace_id=record.namespace_id, force=False
            )
            object_id = None
            changes: dict[str, Any] = {
                "file_hash": stored.sha256,
                "storage_key": stored.storage_key,
                "file_size_bytes": stored.size_bytes,
            }
            completed = dataclasses.replace(record, **changes)
            if record.create_object_on_confirm:
                object_id = await self._create_object(completed)
        except BucketdError as error:
            failed = await self._uploads.transition(
                record.upload_id,
                when={"status": Status.PROCESSING},
                changes={"status": Status.FAILED, "message": error.message, "lease_until": None},
            )
            log.warning("upload %s failed: %s", record.upload_id, error.message)
            if failed is None or raise_errors:
                raise
            return failed
        now = self._clock()
        done = await self._uploads.transition(
            record.upload_id,
            when={"status": Status.PROCESSING},
            changes={
                **changes,
                "status": Status.COMPLETED,
                "object_id": object_id,
                "completed_at": now,
                "lease_until": None,
                "message": None,
            },
        )
        await self._blobs.delete(record.s3_key)  # the content-addressed copy is what stays
        return done or record

    async def _create_object(self, upload: UploadRecord) -> str:
        """The object of create_object_on_confirm: one blob, the upload's bytes."""
        namespace = await self._namespaces.find(upload.organization_id, upload.namespace_id)
        if namespace is None:
            raise NotFound(f"Namespace '{upload.namespace_id}' no longer exists")
        bucket = await self._buckets.get(namespace, upload.bucket_id)
        prop = upload.blob_property or ""
        kind = bucket.bucket_schema.property(prop, where="blob_property").type
        request = ObjectInput(
            idempotency_key=f"upload:{upload.upload_id}",  # a resumed finish finds its object
            metadata=upload.object_metadata,
            blobs=[BlobInput(property=prop, type=kind, upload_id=upload.upload_id)],
        )
        record = await self._objects.create(namespace, upload.bucket_id, request, confirming=upload)
        return record.object_id

    def _spawn(self, record: UploadRecord) -> None:
        task = asyncio.create_task(self.finish(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sweep(self) -> tuple[int, int]:
        """Expire stale PENDING uploads (FAILED, bytes removed) and resume abandoned confirms."""
        now = self._clock()
        expired_ids, stalled_ids = await self._uploads.due(now=now)
        expired = 0
        for upload_id in expired_ids:
            record = await self._uploads.transition(
                upload_id,
                when={"status": Status.PENDING, "expires_at": {"$lt": now}},
                changes={"status": Status.FAILED, "message": "expired before it was confirmed"},
            )
            if record is not None:
                await self._blobs.delete(record.s3_key)
                expired += 1
        resumed = 0
        for upload_id in stalled_ids:
            record = await self._uploads.transition(
                upload_id,
                when={"status": Status.PROCESSING, "lease_until": {"$lt": now}},
                changes={"lease_until": now + self._limits.lease},
            )
            if record is not None:
                await self.finish(record)
                resumed += 1
        return expired, resumed

    async def drain(self) -> None:
        """Wait for the background confirms started by this instance."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Let background confirms finish (or be resumed by a later sweep, under their lease)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
