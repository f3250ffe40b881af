"""Confirming presigned uploads: verify the file, then make it a content where it lies.

The file is read once (hashed and sniffed) and becomes the content of the new object's blob —
or, with create_object_on_confirm false, a content the upload itself holds for a later upload_id.
Nothing is copied: if its bytes were registered already, the registered content is held and the
file is deleted once the upload is COMPLETED. Large files and `async=true` finish in the
background under the upload's lease in MongoDB, so that another instance's janitor finishes the
work if this one dies. Every state change is a conditional single-document update.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bucketd.server.domain.batches import check_batch_size
from bucketd.server.domain.blob_data import UploadedFile
from bucketd.server.domain.contents import Content, new_content_id, upload_ref
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Namespace
from bucketd.server.domain.object_plan import BlobInput, ObjectInput
from bucketd.server.domain.status import Status
from bucketd.server.domain.stored import Head
from bucketd.server.domain.tasks import TaskOutcome, TaskRecord, TaskType
from bucketd.server.domain.uploads import (
    LeaseRenewal,
    UploadClaim,
    UploadCompleted,
    UploadEnded,
    UploadRecord,
)
from bucketd.server.domain.writes import PendingContent, WriteKind
from bucketd.server.errors import BucketdError, FailedPrecondition, NotFound
from bucketd.server.services.background import beyond_the_call
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.contents import Contents
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.ports import BlobStorage, NamespaceStore, UploadStore
from bucketd.server.services.tasks import Progress, Tasks
from bucketd.server.services.uploads import UploadLimits, upload_not_found

log = logging.getLogger("bucketd.uploads")
SETTLE_POLL_SECONDS = 0.25
Clock = Callable[[], datetime]


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """One item of a batch confirm."""

    upload_id: str
    etag: str | None = None
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class _Adopted:
    content: Content
    object_id: str | None


class UploadConfirmations:
    def __init__(
        self,
        *,
        uploads: UploadStore,
        storage: BlobStorage,
        contents: Contents,
        buckets: BucketService,
        namespaces: NamespaceStore,
        objects: ObjectService,
        tasks: Tasks,
        limits: UploadLimits,
        clock: Clock,
    ) -> None:
        self._tasks = tasks
        self._uploads = uploads
        self._storage = storage
        self._contents = contents
        self._buckets = buckets
        self._namespaces = namespaces
        self._objects = objects
        self._limits = limits
        self._clock = clock
        self._background: set[asyncio.Task[UploadRecord]] = set()

    async def confirm(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        upload_id: str,
        *,
        etag: str | None,
        size: int | None,
        run_async: bool,
        policy: str | None = None,
    ) -> UploadRecord:
        """Verify the uploaded file; finish now, or in the background (async or large files).
        `policy`: the created object's unique-key policy (default: the bucket's)."""
        record, claimed = await self._start(
            namespace, bucket_identifier, upload_id, etag=etag, size=size, policy=policy
        )
        if not claimed:
            return record
        large = (record.file_size_bytes or 0) >= self._limits.async_threshold_bytes
        if run_async or large:
            self._spawn(record)
            return record
        return await self.finish(record, raise_errors=True)

    async def _start(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        upload_id: str,
        *,
        etag: str | None,
        size: int | None,
        policy: str | None,
    ) -> tuple[UploadRecord, bool]:
        """Verify the file and claim the upload (PROCESSING, under its lease): (the upload,
        whether this call claimed it). Confirming again answers the upload as it is."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        record = await self._uploads.get(namespace.namespace_id, bucket.bucket_id, upload_id)
        if record is None:
            raise upload_not_found(upload_id)
        if record.status in {Status.COMPLETED, Status.PROCESSING}:
            return record, False
        head = await self._verify(record, etag=etag, size=size)
        now = self._clock()
        claimed = await self._uploads.transition(
            upload_id,
            statuses=(Status.PENDING,),
            change=UploadClaim(
                task_id=new_id("task_"),
                lease_until=now + self._limits.lease,
                verified_at=now,
                etag=head.etag,
                policy=policy,
            ),
        )
        if claimed is None:  # somebody else confirmed it first
            latest = await self._uploads.get(namespace.namespace_id, bucket.bucket_id, upload_id)
            return latest or record, False
        return claimed, True

    async def confirm_batch(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        items: list[Confirmation],
        *,
        policy: str | None = None,
    ) -> TaskRecord:
        """A confirm_uploads task (run_batch) confirms them in the background, one by one."""
        check_batch_size("confirmations", len(items))
        bucket = await self._buckets.get(namespace, bucket_identifier)
        return await self._tasks.submit(
            namespace.organization_id,
            TaskType.CONFIRM_UPLOADS,
            namespace_id=namespace.namespace_id,
            inputs={
                "bucket_id": bucket.bucket_id,
                "policy": policy,
                "confirmations": [
                    {"upload_id": i.upload_id, "etag": i.etag, "file_size_bytes": i.size}
                    for i in items
                ],
            },
        )

    async def run_batch(self, task: TaskRecord, progress: Progress) -> TaskOutcome:
        """The confirm_uploads task: each upload confirmed and finished here; its outcome (or
        why it failed) goes to the outputs. Run again after a crash, it finds the uploads it
        finished COMPLETED and waits for those another worker is finishing."""
        namespace = await self._namespaces.find(task.organization_id, task.namespace_id or "")
        if namespace is None:
            raise NotFound(f"Namespace '{task.namespace_id}' no longer exists")
        results: dict[str, dict[str, Any]] = {}
        for item in task.inputs["confirmations"]:
            upload_id = item["upload_id"]
            try:
                record, claimed = await self._start(
                    namespace,
                    task.inputs["bucket_id"],
                    upload_id,
                    etag=item.get("etag"),
                    size=item.get("file_size_bytes"),
                    policy=task.inputs.get("policy"),
                )
                record = await (self.finish(record) if claimed else self._settled(record))
                results[upload_id] = {
                    "status": record.status,
                    "object_id": record.object_id,
                    "error": record.message if record.status == Status.FAILED else None,
                }
            except BucketdError as error:
                results[upload_id] = {"status": Status.FAILED, "error": error.message}
            progress.add(**{results[upload_id]["status"].lower(): 1})
        completed = sum(1 for r in results.values() if r["status"] == Status.COMPLETED)
        status = Status.COMPLETED if completed == len(results) else Status.COMPLETED_WITH_ERRORS
        if not completed:
            status = Status.FAILED
        return TaskOutcome({"uploads": results}, status=status)

    async def _settled(self, record: UploadRecord) -> UploadRecord:
        """The upload once it is no longer PROCESSING: finished by whoever holds its lease, or
        here once that lease ran out (its worker died)."""
        while record.status == Status.PROCESSING:
            now = self._clock()
            taken = await self._uploads.transition(
                record.upload_id,
                statuses=(Status.PROCESSING,),
                lease_ran_out_before=now,
                change=LeaseRenewal(now + self._limits.lease),
            )
            if taken is not None:
                return await self.finish(taken)
            await asyncio.sleep(SETTLE_POLL_SECONDS)
            record = await self._uploads.by_id(record.upload_id) or record
        return record

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
        head = await self._storage.head(record.s3_key)
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
        for expected in (size, record.file_size_bytes):
            if expected is not None and expected != head.size_bytes:
                raise FailedPrecondition(
                    f"file_size_bytes {expected} does not match the uploaded size "
                    f"{head.size_bytes}",
                    details={"field": "file_size_bytes"},
                )
        if head.content_type and head.content_type.split(";")[0] != record.content_type:
            raise FailedPrecondition(
                f"the file was uploaded as {head.content_type}, "
                f"not as the signed {record.content_type}",
                details={"field": "content_type"},
            )
        return head

    async def finish(self, record: UploadRecord, *, raise_errors: bool = False) -> UploadRecord:
        """The file becomes a content (and the object made of it); COMPLETED, else FAILED.

        Safe to run again after a crash (the janitor does): the object is created under an
        idempotency key derived from the upload, and a duplicate file is deleted last.
        """
        try:
            adopted = await self._adopt(record)
        except BucketdError as error:
            failed = await self._uploads.transition(
                record.upload_id,
                statuses=(Status.PROCESSING,),
                change=UploadEnded(Status.FAILED, error.message),
            )
            log.warning("upload %s failed: %s", record.upload_id, error.message)
            if failed is None or raise_errors:
                raise
            return failed
        content = adopted.content
        done = await self._uploads.transition(
            record.upload_id,
            statuses=(Status.PROCESSING,),
            change=UploadCompleted(
                file_hash=content.sha256,
                file_size_bytes=content.size_bytes,
                content_id=content.content_id,
                object_id=adopted.object_id,
                completed_at=self._clock(),
            ),
        )
        if content.storage_key != record.s3_key:  # its bytes were registered already
            await self._storage.delete(record.s3_key)
        return done or record

    async def _adopt(self, upload: UploadRecord) -> _Adopted:
        namespace = await self._namespaces.find(upload.organization_id, upload.namespace_id)
        if namespace is None:
            raise NotFound(f"Namespace '{upload.namespace_id}' no longer exists")
        if not upload.create_object_on_confirm:
            pending = PendingContent(
                content_id=new_content_id(), storage_key=upload.s3_key, owned=False
            )
            content, _ = await self._contents.adopt(
                upload.namespace_id,
                pending,
                mime_type=upload.content_type,
                ref=upload_ref(upload.upload_id),
            )
            return _Adopted(content, None)
        bucket = await self._buckets.get(namespace, upload.bucket_id)
        prop = upload.blob_property or ""
        field_type = bucket.bucket_schema.property(prop, where="blob_property").type
        source = UploadedFile(upload.s3_key, upload.content_type, upload.filename)
        request = ObjectInput(
            idempotency_key=f"upload:{upload.upload_id}",  # a resumed finish finds its object
            metadata=upload.object_metadata,
            blobs=[BlobInput(property=prop, type=field_type, source=source)],
            policy=upload.policy,
        )
        made = await self._objects.create(
            namespace, upload.bucket_id, request, kind=WriteKind.CONFIRM
        )
        if made.status is Status.FAILED or not made.blobs or made.blobs[0].content_id is None:
            raise FailedPrecondition(made.error or f"object {made.object_id} has no content")
        blob = made.blobs[0]
        content = Content(
            content_id=blob.content_id or "",
            namespace_id=made.namespace_id,
            sha256=blob.sha256 or "",
            storage_key=blob.storage_key or "",
            size_bytes=blob.size_bytes or 0,
            mime_type=blob.mime_type or upload.content_type,
        )
        return _Adopted(content, made.object_id)

    def _spawn(self, record: UploadRecord) -> None:
        task = asyncio.create_task(beyond_the_call(self.finish(record)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def sweep(self) -> tuple[int, int]:
        """Expire stale PENDING uploads (FAILED, file removed) and resume abandoned confirms."""
        now = self._clock()
        expired_ids, stalled_ids = await self._uploads.due(now=now)
        expired = 0
        for upload_id in expired_ids:
            record = await self._uploads.transition(
                upload_id,
                statuses=(Status.PENDING,),
                expired_before=now,
                change=UploadEnded(Status.FAILED, "expired before it was confirmed"),
            )
            if record is not None:
                await self._storage.delete(record.s3_key)
                expired += 1
        resumed = 0
        for upload_id in stalled_ids:
            record = await self._uploads.transition(
                upload_id,
                statuses=(Status.PROCESSING,),
                lease_ran_out_before=now,
                change=LeaseRenewal(now + self._limits.lease),
            )
            if record is not None:
                await self.finish(record)
                resumed += 1
        return expired, resumed

    async def drain(self) -> None:
        """Wait for the background confirms started by this instance."""
        await asyncio.gather(*self._background, return_exceptions=True)

    async def close(self) -> None:
        """Stop background confirms (a janitor resumes them once their lease runs out)."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
