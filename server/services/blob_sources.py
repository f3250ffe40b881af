"""Where a blob's bytes come from: each source stores them and returns what the blob now is
(domain/held.py), for the write's orchestrator to hand its draft.

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
from bucketd.server.domain.held import BlobTarget, HeldContent, Reference, Skipped, Stored
from bucketd.server.domain.object_plan import ObjectPlan, PlannedBlob
from bucketd.server.domain.status import Status
from bucketd.server.domain.uploads import UploadRecord
from bucketd.server.domain.writes import PendingContent
from bucketd.server.errors import FailedPrecondition, InvalidArgument
from bucketd.server.services.content_writer import ContentWriter, Written
from bucketd.server.services.contents import Contents
from bucketd.server.services.ports import (
    ContentRegistry,
    Fetcher,
    ObjectStore,
    UploadStore,
    WriteStore,
)

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
        writes: WriteStore,
    ) -> None:
        self._contents = contents
        self._writes = writes
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
        target: BlobTarget,
        planned: PlannedBlob,
        pending: PendingContent,
        uploads: dict[int, UploadRecord],
    ) -> Stored:
        """The blob's bytes, stored (or found held already): what the blob now is."""
        data = planned.data
        if isinstance(data, JsonValue | InlineBytes):
            return await self._in_hand(target, planned, pending, data)
        if isinstance(data, UploadRef):
            return await self._upload_ref(target, planned, uploads[planned.index])
        if isinstance(data, UploadedFile):
            content, _ = await self._contents.adopt(
                target.namespace_id,
                pending,
                mime_type=data.mime_type,
                ref=target.ref(planned.blob_id),
            )
            planned.check_sha256(content.sha256)
            return HeldContent(content=content, mime_type=data.mime_type, filename=data.filename)
        assert not isinstance(data, Streamed), "streamed blobs are written by the stream"
        if not planned.canonicalize:
            return Reference(data.url)
        return await self._copied(target, planned, pending, data)

    async def _in_hand(
        self,
        target: BlobTarget,
        planned: PlannedBlob,
        pending: PendingContent,
        data: JsonValue | InlineBytes,
    ) -> Stored:
        """Bytes whose SHA-256 is known before any write (checked by the plan)."""
        raw, mime_type, filename, value = (
            (data.encoded(), JSON_MIME, None, data.value)
            if isinstance(data, JsonValue)  # else: its MIME type sniffed and checked by the plan
            else (data.content, data.mime_type or mime.OCTET_STREAM, data.filename, None)
        )
        if target.skip_duplicates:
            sha256 = hashlib.sha256(raw).hexdigest()
            if (holder := await self._holder(target, sha256)) is not None:
                return Skipped(sha256, holder)
        content = await self._contents.store_bytes(
            target.namespace_id,
            raw,
            mime_type=mime_type,
            ref=target.ref(planned.blob_id),
            pending=pending,
            force=planned.force,
        )
        return HeldContent(content=content, mime_type=mime_type, filename=filename, data=value)

    async def _copied(
        self,
        target: BlobTarget,
        planned: PlannedBlob,
        pending: PendingContent,
        source: S3Location | RemoteUrl,
    ) -> Stored:
        """An s3:// or URL source, copied into a content."""
        if isinstance(source, S3Location):
            chunks = self._s3_source(planned, source)
            filename = source.key.rsplit("/")[-1]
            return await self._streamed(target, planned, pending, chunks, (None, filename))
        async with self._fetcher.open(source.url) as fetched:
            declared = (fetched.content_type or "").split(";")[0].strip() or None
            named = (declared, fetched.filename)
            return await self._streamed(target, planned, pending, fetched.chunks, named)

    async def _s3_source(self, planned: PlannedBlob, source: S3Location) -> AsyncIterator[bytes]:
        """An allowed s3:// source; a missing key answers like a refused bucket."""
        try:
            async for chunk in self._contents.storage.read_source(source.bucket, source.key):
                yield chunk
        except InvalidArgument:
            raise unreadable_source(f"{planned.where()}.data", source) from None

    async def _holder(self, target: BlobTarget, sha256: str) -> str | None:
        """Another object of the bucket holding these bytes (skip_duplicates)."""
        holder = await self._objects.holder_of_sha256(target.namespace_id, target.bucket_id, sha256)
        return holder if holder != target.object_id else None

    async def _streamed(
        self,
        target: BlobTarget,
        planned: PlannedBlob,
        pending: PendingContent,
        chunks: AsyncIterator[bytes],
        named: tuple[str | None, str | None],
    ) -> Stored:
        """A source of unknown size and hash: into a multipart upload, then deduplicated.
        `named`: the MIME type the source declared and its file name, if any."""
        declared, filename = named
        writer = await self.open_writer(target, planned, pending, declared)
        written = await self._contents.write_stream(writer, chunks)
        sniffed = mime.sniff(written.head, filename=filename)
        mime_type = sniffed if sniffed != mime.OCTET_STREAM else (declared or sniffed)
        return await self.finish_streamed(
            target, planned, writer, written, mime_type=mime_type, filename=filename
        )

    async def open_writer(
        self,
        target: BlobTarget,
        planned: PlannedBlob,
        pending: PendingContent,
        mime_type: str | None,
    ) -> ContentWriter:
        """A multipart upload at the blob's pending key, recorded in the write's lease before
        any byte, for a janitor to abort (the whole content's CRC32C computed when the blob's
        source announced one to check)."""
        source = planned.data
        crc32c = isinstance(source, Streamed) and source.expected_crc32c is not None
        writer = await self._contents.open_writer(
            pending, mime_type=mime_type or mime.OCTET_STREAM, crc32c=crc32c
        )
        await self._writes.set_multipart(
            target.object_id, target.write_id, planned.index, writer.multipart_id
        )
        return writer

    async def finish_streamed(
        self,
        target: BlobTarget,
        planned: PlannedBlob,
        writer: ContentWriter,
        written: Written,
        *,
        mime_type: str,
        filename: str | None,
    ) -> Stored:
        """Streamed bytes, all received: checked against the field and the checksum, skipped
        if another object of the bucket has them (skip_duplicates), else held as a content."""
        try:
            mime.check_not_empty(f"{planned.where()}.data", planned.type, written.size_bytes)
            mime.check_fits(f"{planned.where()}.data", planned.type, mime_type)
            holder = None
            if written.sha256:  # hashed on the way: nothing is completed if it does not match
                planned.check_sha256(written.sha256)
                if target.skip_duplicates:
                    holder = await self._holder(target, written.sha256)
        except BaseException:
            await writer.abort()
            raise
        if holder is not None and written.sha256:
            await writer.abort()
            return Skipped(written.sha256, holder)
        content = await self._contents.commit_writer(
            target.namespace_id,
            writer,
            written,
            mime_type=mime_type,
            ref=target.ref(planned.blob_id),
            force=planned.force,
        )
        if not written.sha256:  # a resumed session's bytes, hashed once read back
            planned.check_sha256(content.sha256)
        return HeldContent(content=content, mime_type=mime_type, filename=filename)

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

    async def _upload_ref(
        self, target: BlobTarget, planned: PlannedBlob, upload: UploadRecord
    ) -> Stored:
        """A confirmed upload of the bucket (checked by uploads_of): the blob holds its content."""
        assert upload.content_id is not None
        content = await self._registry.hold_id(
            target.namespace_id, upload.content_id, target.ref(planned.blob_id)
        )
        if content is None:
            where = f"{planned.where()}.upload_id"
            raise FailedPrecondition(
                f"{where}: the bytes of upload {upload.upload_id!r} were deleted with the "
                "objects that held them",
                details={"field": where},
            )
        planned.check_sha256(content.sha256)
        return HeldContent(
            content=content,
            mime_type=upload.content_type,
            filename=upload.filename,
            new_bytes=False,
        )
