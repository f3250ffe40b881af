"""Presigned uploads: create (URL), confirm (verify, hash, adopt, create the object), cancel,
list, and the background work (async confirms under a MongoDB lease, expiry of stale uploads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from server.domain.filters import list_filter
from server.domain.ids import new_id
from server.domain.listing import ListQuery, PageRequest, SortRequest
from server.domain.models import Namespace
from server.domain.object_plan import BlobInput, ObjectInput
from server.domain.stored import Head
from server.domain.uploads import UploadRecord, UploadRequest, check_request, s3_key
from server.errors import BucketdError, FailedPrecondition, InvalidArgument, NotFound
from server.services.buckets import BucketService
from server.services.objects import ObjectService
from server.services.ports import NamespaceStore, UploadBlobStore, UploadStore

log = logging.getLogger("bucketd.uploads")
Clock = Callable[[], datetime]

CANCELLABLE = ("PENDING", "IN_PROGRESS", "FAILED")
LIST_LIMIT = (20, 100)
SORTABLE = {
    "created_at": "created_at",
    "filename": "filename",
    "status": "status",
    "file_size_bytes": "file_size_bytes",
    "expires_at": "expires_at",
}
DEFAULT_SORT = SortRequest(field="created_at", descending=True)


def upload_not_found(upload_id: str) -> NotFound:
    return NotFound(
        f"Upload '{upload_id}' not found", details={"resource": "upload", "id": upload_id}
    )


@dataclasses.dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    async_threshold_bytes: int
    lease: timedelta


@dataclasses.dataclass(frozen=True)
class UploadView:
    record: UploadRecord
    presigned_url: str | None = None
    is_duplicate: bool = False
    duplicate_of_upload_id: str | None = None
    existing_object_id: str | None = None


class UploadService:
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
        self._namespaces = namespaces
        self._uploads = uploads
        self._blobs = blobs
        self._buckets = buckets
        self._objects = objects
        self._limits = limits
        self._clock = clock
        self._tasks: set[asyncio.Task[UploadRecord]] = set()

    async def create(
        self,
        namespace: Namespace,
        organization_id: str,
        bucket_identifier: str,
        request: UploadRequest,
    ) -> UploadView:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        checked = check_request(
            request, schema=bucket.bucket_schema, max_bytes=self._limits.max_bytes
        )
        if checked.file_hash and checked.skip_duplicates:
            duplicate = await self._duplicate(namespace, bucket.bucket_id, checked.file_hash)
            if duplicate is not None:
                return duplicate
        now = self._clock()
        upload_id = new_id("upl_")
        expiration = checked.presigned_url_expiration or 3600
        record = UploadRecord(
            upload_id=upload_id,
            namespace_id=namespace.namespace_id,
            organization_id=organization_id,
            bucket_id=bucket.bucket_id,
            filename=checked.filename,
            content_type=checked.content_type,
            file_size_bytes=checked.file_size_bytes,
            presigned_url_expiration=expiration,
            s3_key=s3_key(organization_id, namespace.namespace_id, upload_id, checked.filename),
            status="PENDING",
            metadata=checked.metadata,
            object_metadata=checked.object_metadata,
            blob_property=checked.blob_property,
            blob_type=checked.blob_type,
            file_hash=checked.file_hash,
            skip_duplicates=checked.skip_duplicates,
            create_object_on_confirm=checked.create_object_on_confirm,
            created_at=now,
            expires_at=now + timedelta(seconds=expiration),
        )
        await self._uploads.insert(record)
        url = await self._blobs.presigned_put(
            record.s3_key, content_type=record.content_type, expires_seconds=expiration
        )
        return UploadView(record, presigned_url=url)

    async def _duplicate(
        self, namespace: Namespace, bucket_id: str, digest: str
    ) -> UploadView | None:
        """A COMPLETED upload of the same bytes in this bucket, answered instead of a new URL."""
        existing = await self._uploads.completed_with_hash(
            namespace.namespace_id, bucket_id, digest
        )
        if existing is None:
            return None
        return UploadView(
            existing,
            is_duplicate=True,
            duplicate_of_upload_id=existing.upload_id,
            existing_object_id=existing.object_id,
        )

    async def get(
        self, namespace: Namespace, bucket_identifier: str, upload_id: str, *, presign: bool
    ) -> UploadView:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        record = await self._find(namespace, bucket.bucket_id, upload_id)
        url = None
        if presign and record.status == "PENDING":
            remaining = int((record.expires_at - self._clock()).total_seconds())
            if remaining > 0:
                url = await self._blobs.presigned_put(
                    record.s3_key, content_type=record.content_type, expires_seconds=remaining
                )
        return UploadView(record, presigned_url=url)

    async def _find(self, namespace: Namespace, bucket_id: str, upload_id: str) -> UploadRecord:
        record = await self._uploads.get(namespace.namespace_id, bucket_id, upload_id)
        if record is None:
            raise upload_not_found(upload_id)
        return record

    async def page(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        request: ListQuery,
    ) -> tuple[list[UploadRecord], int, PageRequest, dict[str, Any]]:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        sort = request.sort(allowed=SORTABLE, default=DEFAULT_SORT)
        resolve = {
            **SORTABLE,
            "upload_id": "_id",
            "content_type": "content_type",
            "blob_property": "blob_property",
            "file_hash": "file_hash",
        }
        query = list_filter(
            request,
            lambda name: resolve.get(name) or (name if name.startswith("metadata.") else None),
            ["filename", "search_text"],
        )
        found, total = await self._uploads.page(
            namespace.namespace_id, bucket.bucket_id, query=query, sort=sort, page=page
        )
        stats = await self._uploads.stats(namespace.namespace_id, bucket.bucket_id, query)
        return found, total, page, stats

    async def cancel(
        self, namespace: Namespace, bucket_identifier: str, upload_id: str, *, delete_bytes: bool
    ) -> None:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        record = await self._find(namespace, bucket.bucket_id, upload_id)
        if record.status not in CANCELLABLE:
            raise InvalidArgument(
                f"Upload '{upload_id}' is {record.status} and cannot be cancelled",
                details={"field": "upload_id"},
            )
        cancelled = await self._uploads.transition(
            upload_id,
            when={"status": {"$in": list(CANCELLABLE)}},
            changes={"status": "CANCELED", "message": "cancelled by the client"},
        )
        if cancelled is None:
            raise FailedPrecondition(f"Upload '{upload_id}' changed meanwhile; look at it again")
        if delete_bytes:
            await self._blobs.delete(record.s3_key)

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
        record = await self._find(namespace, bucket.bucket_id, upload_id)
        if record.status in {"COMPLETED", "PROCESSING"}:
            return record  # confirming again answers the same result
        head = await self._verify(record, etag=etag, size=size)
        task_id = new_id("task_")
        now = self._clock()
        claimed = await self._uploads.transition(
            upload_id,
            when={"status": "PENDING"},
            changes={
                "status": "PROCESSING",
                "task_id": task_id,
                "lease_until": now + self._limits.lease,
                "verified_at": now,
                "etag": head.etag,
            },
        )
        if claimed is None:  # somebody else confirmed it first
            return await self._find(namespace, bucket.bucket_id, upload_id)
        large = (claimed.file_size_bytes or 0) >= self._limits.async_threshold_bytes
        if run_async or large:
            self._spawn(claimed)
            return claimed
        return await self.finish(claimed, raise_errors=True)

    async def _verify(self, record: UploadRecord, *, etag: str | None, size: int | None) -> Head:
        """The checks that keep an upload PENDING when they fail; each says what is wrong."""
        if record.status != "PENDING":
            raise InvalidArgument(
                f"Upload '{record.upload_id}' is {record.status}: it cannot be confirmed",
                details={"field": "upload_id"},
            )
        if self._clock() >= record.expires_at:
            raise InvalidArgument(
                f"Upload '{record.upload_id}' expired at {record.expires_at:%Y-%m-%dT%H:%M:%SZ}",
                details={"field": "upload_id"},
            )
        head = await self._blobs.head(record.s3_key)
        if head is None:
            raise InvalidArgument(
                "Nothing was uploaded: PUT the file to the presigned_url first",
                details={"field": "upload_id"},
            )
        if etag is not None and etag.strip('"') != head.etag:
            raise InvalidArgument(
                f"etag {etag!r} does not match the uploaded file's ETag {head.etag!r}",
                details={"field": "etag"},
            )
        for name, expected in (
            ("file_size_bytes", size),
            ("file_size_bytes", record.file_size_bytes),
        ):
            if expected is not None and expected != head.size_bytes:
                raise InvalidArgument(
                    f"{name} {expected} does not match the uploaded size {head.size_bytes}",
                    details={"field": name},
                )
        if head.content_type and head.content_type.split(";")[0] != record.content_type:
            raise InvalidArgument(
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
                when={"status": "PROCESSING"},
                changes={"status": "FAILED", "message": error.message, "lease_until": None},
            )
            log.warning("upload %s failed: %s", record.upload_id, error.message)
            if failed is None or raise_errors:
                raise
            return failed
        now = self._clock()
        done = await self._uploads.transition(
            record.upload_id,
            when={"status": "PROCESSING"},
            changes={
                **changes,
                "status": "COMPLETED",
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
        kind = (bucket.bucket_schema.get("properties") or {}).get(prop, {}).get("type")
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
                when={"status": "PENDING", "expires_at": {"$lt": now}},
                changes={"status": "FAILED", "message": "expired before it was confirmed"},
            )
            if record is not None:
                await self._blobs.delete(record.s3_key)
                expired += 1
        resumed = 0
        for upload_id in stalled_ids:
            record = await self._uploads.transition(
                upload_id,
                when={"status": "PROCESSING", "lease_until": {"$lt": now}},
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
