"""Where a blob's bytes come from, and how each source becomes a content held by the draft.

Inline data and JSON values are in hand (their SHA-256 is known before any write); URL and
s3:// sources stream into a multipart upload at the blob's pending key; an upload_id holds the
content of a confirmed upload; a presigned file being confirmed is adopted where it lies.
Streamed blobs (UploadObject) are written by services/streams.py with the same pieces.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import (
    InlineBytes,
    JsonValue,
    RemoteUrl,
    S3Location,
    Streamed,
    UploadedFile,
    UploadRef,
    unreadable_source,
)
from bucketd.server.domain.object_plan import ObjectPlan, PlannedBlob
from bucketd.server.domain.status import Status
from bucketd.server.domain.uploads import UploadRecord
from bucketd.server.domain.writes import PendingContent
from bucketd.server.errors import FailedPrecondition, InvalidArgument
from bucketd.server.services.content_writer import ContentWriter, Written
from bucketd.server.services.contents import Contents
from bucketd.server.services.drafts import Draft
from bucketd.server.services.ports import ContentRegistry, Fetcher, ObjectStore, UploadStore

JSON_MIME = "application/json"


class BlobSources:
    def __init__(
        self,
        *,
        contents: Contents,
        registry: ContentRegistry,
        fetcher: Fetcher,
        uploads: UploadStore,
        objects: ObjectStore,
    ) -> None:
        self._contents = contents
        self._registry = registry
        self._fetcher = fetcher
        self._uploads = uploads
        self._objects = objects

    def pending_for(self, namespace_id: str, planned: PlannedBlob) -> PendingContent:
        """Where the blob's new bytes will go: a new key, or a presigned upload's own file."""
        if isinstance(planned.data, UploadedFile):
            fresh = self._contents.new_pending(namespace_id)
            return PendingContent(
                content_id=fresh.content_id, storage_key=planned.data.storage_key, owned=False
            )
        return self._contents.new_pending(namespace_id)

    async def store(
        self,
        draft: Draft,
        planned: PlannedBlob,
        pending: PendingContent,
        uploads: dict[int, UploadRecord],
    ) -> None:
        data = planned.data
        if isinstance(data, JsonValue):
            await self._in_hand(
                draft, planned, pending, data.encoded(), mime_type=JSON_MIME, value=data.value
            )
        elif isinstance(data, InlineBytes):
            mime_type = data.mime_type or mime.OCTET_STREAM  # sniffed and checked by the plan
            await self._in_hand(
                draft, planned, pending, data.content, mime_type=mime_type, filename=data.filename
            )
        elif isinstance(data, UploadRef):
            await self._upload_ref(draft, planned, uploads[planned.index])
        elif isinstance(data, UploadedFile):
            content, _ = await self._contents.adopt(
                draft.namespace_id, pending, mime_type=data.mime_type, ref=draft.ref(planned)
            )
            draft.add(planned, content, mime_type=data.mime_type, filename=data.filename)
        elif isinstance(data, Streamed):
            raise AssertionError("streamed blobs are written by the stream")
        elif not planned.canonicalize:
            draft.add_reference(planned, data.url)
        elif isinstance(data, S3Location):
            chunks = self._s3_source(planned, data)
            await self._streamed(
                draft, planned, pending, chunks, declared=None, filename=data.key.rsplit("/")[-1]
            )
        else:
            await self._fetched(draft, planned, pending, data)

    async def _s3_source(self, planned: PlannedBlob, source: S3Location) -> AsyncIterator[bytes]:
        """An allowed s3:// source; a missing key answers like a refused bucket."""
        try:
            async for chunk in self._contents.storage.read_source(source.bucket, source.key):
                yield chunk
        except InvalidArgument:
            raise unreadable_source(f"{planned.where()}.data", source) from None

    async def _in_hand(
        self,
        draft: Draft,
        planned: PlannedBlob,
        pending: PendingContent,
        data: bytes,
        *,
        mime_type: str,
        filename: str | None = None,
        value: object = None,
    ) -> None:
        if draft.plan.skip_duplicates:
            sha256 = hashlib.sha256(data).hexdigest()
            holder = await self._holder(draft, sha256)
            if holder is not None:
                draft.skip(planned, sha256, holder)
                return
        content = await self._contents.store_bytes(
            draft.namespace_id,
            data,
            mime_type=mime_type,
            ref=draft.ref(planned),
            pending=pending,
            force=planned.force,
        )
        draft.add(planned, content, mime_type=mime_type, filename=filename, data=value)

    async def _holder(self, draft: Draft, sha256: str) -> str | None:
        """Another object of the bucket holding these bytes (skip_duplicates)."""
        record = draft.record
        holder = await self._objects.holder_of_sha256(record.namespace_id, record.bucket_id, sha256)
        return holder if holder != record.object_id else None

    async def _fetched(
        self, draft: Draft, planned: PlannedBlob, pending: PendingContent, source: RemoteUrl
    ) -> None:
        async with self._fetcher.open(source.url) as fetched:
            declared = (fetched.content_type or "").split(";")[0].strip() or None
            await self._streamed(
                draft,
                planned,
                pending,
                fetched.chunks,
                declared=declared,
                filename=fetched.filename,
            )

    async def _streamed(
        self,
        draft: Draft,
        planned: PlannedBlob,
        pending: PendingContent,
        chunks: AsyncIterator[bytes],
        *,
        declared: str | None,
        filename: str | None,
    ) -> None:
        """A source of unknown size and hash: into a multipart upload, then deduplicated."""
        writer = await self.open_writer(draft, planned, pending, declared)
        written = await self._contents.write_stream(writer, chunks)
        sniffed = mime.sniff(written.head, filename=filename)
        mime_type = sniffed if sniffed != mime.OCTET_STREAM else (declared or sniffed)
        await self.finish_streamed(
            draft, planned, writer, written, mime_type=mime_type, filename=filename
        )

    async def open_writer(
        self, draft: Draft, planned: PlannedBlob, pending: PendingContent, mime_type: str | None
    ) -> ContentWriter:
        """A multipart upload at the blob's pending key, recorded in the write's lease (the
        whole content's CRC32C computed when the blob's source announced one to check)."""
        source = planned.data
        crc32c = isinstance(source, Streamed) and source.expected_crc32c is not None
        writer = await self._contents.open_writer(
            pending, mime_type=mime_type or mime.OCTET_STREAM, crc32c=crc32c
        )
        await draft.record_multipart(planned.index, writer.multipart_id)
        return writer

    async def finish_streamed(
        self,
        draft: Draft,
        planned: PlannedBlob,
        writer: ContentWriter,
        written: Written,
        *,
        mime_type: str,
        filename: str | None,
    ) -> None:
        """Streamed bytes, all received: checked against the field, skipped if another object
        of the bucket has them (skip_duplicates), else held as a content."""
        try:
            mime.check_not_empty(f"{planned.where()}.data", planned.type, written.size_bytes)
            mime.check_fits(f"{planned.where()}.data", planned.type, mime_type)
            holder = None
            if draft.plan.skip_duplicates and written.sha256:
                holder = await self._holder(draft, written.sha256)
        except BaseException:
            await writer.abort()
            raise
        if holder is not None and written.sha256:
            await writer.abort()
            draft.skip(planned, written.sha256, holder)
            return
        content = await self._contents.commit_writer(
            draft.namespace_id,
            writer,
            written,
            mime_type=mime_type,
            ref=draft.ref(planned),
            force=planned.force,
        )
        draft.add(planned, content, mime_type=mime_type, filename=filename)

    async def uploads_of(
        self, namespace_id: str, bucket_id: str, plan: ObjectPlan
    ) -> dict[int, UploadRecord]:
        """The confirmed uploads the plan's upload_id blobs name, checked before anything is
        written (each must be a COMPLETED upload of this bucket whose type fits the field)."""
        found: dict[int, UploadRecord] = {}
        for planned in plan.blobs:
            if not isinstance(planned.data, UploadRef):
                continue
            where = f"{planned.where()}.upload_id"
            upload_id = planned.data.upload_id
            record = await self._uploads.get(namespace_id, bucket_id, upload_id)
            if record is None:
                raise FailedPrecondition(
                    f"{where}: upload {upload_id!r} not found in this bucket",
                    details={"field": where},
                )
            if record.status != Status.COMPLETED or record.content_id is None:
                raise FailedPrecondition(
                    f"{where}: upload {upload_id!r} is {record.status}; only a confirmed "
                    "(COMPLETED) upload can be used",
                    details={"field": where},
                )
            mime.check_fits(where, planned.type, record.content_type)
            found[planned.index] = record
        return found

    async def _upload_ref(self, draft: Draft, planned: PlannedBlob, upload: UploadRecord) -> None:
        """A confirmed upload of the bucket (checked by uploads_of): the blob holds its content."""
        assert upload.content_id is not None
        content = await self._registry.hold_id(
            draft.namespace_id, upload.content_id, draft.ref(planned)
        )
        if content is None:
            where = f"{planned.where()}.upload_id"
            raise FailedPrecondition(
                f"{where}: the bytes of upload {upload.upload_id!r} were deleted with the "
                "objects that held them",
                details={"field": where},
            )
        draft.add(planned, content, mime_type=upload.content_type, filename=upload.filename)
