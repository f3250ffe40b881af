"""Presigned uploads: create (validate, presign), get, list and cancel. Confirming is in
services/upload_confirm.py."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bucketd.server.domain.batches import check_batch_size
from bucketd.server.domain.filters import fields_or_metadata, list_filter
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.listing import ListQuery, PageRequest, SortRequest
from bucketd.server.domain.models import Namespace
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.status import Status
from bucketd.server.domain.uploads import (
    UploadEnded,
    UploadRecord,
    UploadRequest,
    check_request,
    s3_key,
)
from bucketd.server.domain.user_json import check_user_json
from bucketd.server.errors import BucketdError, FailedPrecondition, NotFound
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.ports import BlobStorage, ContentRegistry, UploadStore

log = logging.getLogger("bucketd.uploads")
Clock = Callable[[], datetime]

CANCELLABLE = (Status.PENDING, Status.IN_PROGRESS, Status.FAILED)
LIST_LIMIT = (20, 100)
SORTABLE = {
    "created_at": "created_at",
    "filename": "filename",
    "status": "status",
    "file_size_bytes": "file_size_bytes",
    "expires_at": "expires_at",
}
DEFAULT_SORT = SortRequest(field="created_at", descending=True)
FILTERABLE = fields_or_metadata(
    {
        **SORTABLE,
        "upload_id": "upload_id",
        "content_type": "content_type",
        "blob_property": "blob_property",
        "file_hash": "file_hash",
    }
)


def upload_not_found(upload_id: str) -> NotFound:
    return NotFound(
        f"Upload '{upload_id}' not found", details={"resource": "upload", "id": upload_id}
    )


@dataclasses.dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    async_threshold_bytes: int
    lease: timedelta
    max_metadata_bytes: int = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class UploadPage:
    results: list[UploadRecord]
    total: int
    page: PageRequest
    stats: dict[str, Any]


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
        storage: BlobStorage,
        registry: ContentRegistry,
        buckets: BucketService,
        limits: UploadLimits,
        clock: Clock,
    ) -> None:
        self._uploads = uploads
        self._storage = storage
        self._registry = registry
        self._buckets = buckets
        self._limits = limits
        self._clock = clock

    async def create(
        self,
        namespace: Namespace,
        organization_id: str,
        bucket_identifier: str,
        request: UploadRequest,
    ) -> UploadView:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        checked = self._checked(request, bucket.bucket_schema)
        if checked.file_hash and checked.skip_duplicates:
            duplicate = await self._duplicate(namespace, bucket.bucket_id, checked.file_hash)
            if duplicate is not None:
                return duplicate
        record = self._record(
            checked, namespace, organization_id=organization_id, bucket_id=bucket.bucket_id
        )
        expiration = record.presigned_url_expiration
        await self._uploads.insert(record)
        url = await self._storage.presigned_put(
            record.s3_key, content_type=record.content_type, expires_seconds=expiration
        )
        return UploadView(record, presigned_url=url)

    def _checked(self, request: UploadRequest, schema: BucketSchema) -> UploadRequest:
        checked = check_request(request, schema=schema, max_bytes=self._limits.max_bytes)
        for where, value in (
            ("metadata", checked.metadata),
            ("object_metadata", checked.object_metadata),
        ):
            check_user_json(where, value, max_bytes=self._limits.max_metadata_bytes)
        return checked

    def _record(
        self, checked: UploadRequest, namespace: Namespace, *, organization_id: str, bucket_id: str
    ) -> UploadRecord:
        """A new upload's record, PENDING until its file is confirmed."""
        now = self._clock()
        upload_id = new_id("upl_")
        expiration = checked.presigned_url_expiration or 3600
        return UploadRecord(
            upload_id=upload_id,
            namespace_id=namespace.namespace_id,
            organization_id=organization_id,
            bucket_id=bucket_id,
            filename=checked.filename,
            content_type=checked.content_type,
            file_size_bytes=checked.file_size_bytes,
            presigned_url_expiration=expiration,
            s3_key=s3_key(organization_id, namespace.namespace_id, upload_id, checked.filename),
            status=Status.PENDING,
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

    async def create_batch(
        self,
        namespace: Namespace,
        organization_id: str,
        bucket_identifier: str,
        requests: list[UploadRequest],
        *,
        shared_metadata: dict[str, Any],
        shared_object_metadata: dict[str, Any],
    ) -> list[UploadView]:
        """All or the first error, naming its item; shared metadata under each item's own."""
        check_batch_size("uploads", len(requests))
        views = []
        for index, request in enumerate(requests):
            merged = dataclasses.replace(
                request,
                metadata={**shared_metadata, **request.metadata},
                object_metadata={**shared_object_metadata, **request.object_metadata},
            )
            try:
                views.append(
                    await self.create(namespace, organization_id, bucket_identifier, merged)
                )
            except BucketdError as error:
                raise error.at(f"uploads[{index}]") from error
        return views

    async def _duplicate(
        self, namespace: Namespace, bucket_id: str, sha256: str
    ) -> UploadView | None:
        """A COMPLETED upload of the same bytes in this bucket, answered instead of a new URL."""
        existing = await self._uploads.completed_with_sha256(
            namespace.namespace_id, bucket_id, sha256
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
        return UploadView(record, presigned_url=await self._url(record) if presign else None)

    async def _url(self, record: UploadRecord) -> str | None:
        """PENDING: where to PUT the file (until it expires). COMPLETED: a fresh download URL
        of what it became, while those bytes exist."""
        if record.status == Status.PENDING:
            remaining = int((record.expires_at - self._clock()).total_seconds())
            if remaining <= 0:
                return None
            return await self._storage.presigned_put(
                record.s3_key, content_type=record.content_type, expires_seconds=remaining
            )
        if record.status == Status.COMPLETED and record.content_id:
            content = await self._registry.find(record.content_id)
            if content is not None and content.namespace_id == record.namespace_id:
                return await self._storage.presigned_get(content.storage_key)
        return None

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
    ) -> UploadPage:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        sort = request.sort(allowed=SORTABLE, default=DEFAULT_SORT)
        query = list_filter(request, FILTERABLE, ["filename", "search_text"])
        found, total = await self._uploads.page(
            namespace.namespace_id, bucket.bucket_id, query=query, sort=sort, page=page
        )
        stats = await self._uploads.stats(namespace.namespace_id, bucket.bucket_id, query)
        return UploadPage(found, total, page, stats)

    async def cancel(
        self, namespace: Namespace, bucket_identifier: str, upload_id: str, *, delete_bytes: bool
    ) -> None:
        bucket = await self._buckets.get(namespace, bucket_identifier)
        record = await self._find(namespace, bucket.bucket_id, upload_id)
        if record.status not in CANCELLABLE:
            raise FailedPrecondition(
                f"Upload '{upload_id}' is {record.status} and cannot be cancelled",
                details={"field": "upload_id"},
            )
        cancelled = await self._uploads.transition(
            upload_id,
            statuses=CANCELLABLE,
            change=UploadEnded(Status.CANCELED, "cancelled by the client"),
        )
        if cancelled is None:
            raise FailedPrecondition(f"Upload '{upload_id}' changed meanwhile; look at it again")
        if delete_bytes:
            await self._storage.delete(record.s3_key)
