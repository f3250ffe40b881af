"""Turning one planned blob into stored bytes (or a reference) and its StoredBlob record."""

from __future__ import annotations

from dataclasses import dataclass

from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import (
    InlineBytes,
    JsonValue,
    RemoteUrl,
    S3Location,
    StoredContent,
    UploadRef,
)
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import StoredBlob
from bucketd.server.domain.object_plan import PlannedBlob
from bucketd.server.domain.stored import StoredBytes
from bucketd.server.services.ports import BlobStore, Fetcher

JSON_MIME = "application/json"


@dataclass(frozen=True)
class BlobIngester:
    blobs: BlobStore
    fetcher: Fetcher

    async def ingest(self, namespace_id: str, planned: PlannedBlob) -> StoredBlob:
        data = planned.data
        where = f"blobs[{planned.index}].data"
        if isinstance(data, StoredContent):
            return self._from_content(planned, data)
        if isinstance(data, UploadRef):
            raise AssertionError("uploads are resolved to StoredContent before ingestion")
        if isinstance(data, JsonValue):
            stored = await self.blobs.put_bytes(
                namespace_id, data.encoded(), mime_type=JSON_MIME, force=planned.force
            )
            return self._record(planned, stored, JSON_MIME, None, value=data.value)
        if isinstance(data, InlineBytes):  # its MIME type was sniffed and checked by the plan
            mime_type = data.mime_type or mime.OCTET_STREAM
            stored = await self.blobs.put_bytes(
                namespace_id, data.content, mime_type=mime_type, force=planned.force
            )
            return self._record(planned, stored, mime_type, data.filename)
        if not planned.canonicalize:
            return self._reference(planned, data.url)
        if isinstance(data, S3Location):
            chunks = self.blobs.read_stream(data.bucket, data.key)
            stored = await self.blobs.put_stream(
                namespace_id, chunks, mime_type=mime.OCTET_STREAM, force=planned.force
            )
            mime_type = mime.sniff(stored.head, filename=data.key)
            mime.check_fits(where, planned.type, mime_type)
            return self._record(planned, stored, mime_type, data.key.rsplit("/", 1)[-1])
        return await self._mirror(namespace_id, planned, data, where)

    async def _mirror(
        self, namespace_id: str, planned: PlannedBlob, data: RemoteUrl, where: str
    ) -> StoredBlob:
        async with self.fetcher.open(data.url) as fetched:
            declared = (fetched.content_type or "").split(";")[0].strip() or None
            stored = await self.blobs.put_stream(
                namespace_id,
                fetched.chunks,
                mime_type=declared or mime.OCTET_STREAM,
                force=planned.force,
            )
        sniffed = mime.sniff(stored.head, filename=fetched.filename)
        mime_type = sniffed if sniffed != mime.OCTET_STREAM else (declared or sniffed)
        mime.check_fits(where, planned.type, mime_type)
        return self._record(planned, stored, mime_type, fetched.filename)

    def _record(
        self,
        planned: PlannedBlob,
        stored: StoredBytes,
        mime_type: str,
        filename: str | None,
        *,
        value: object = None,
    ) -> StoredBlob:
        return StoredBlob(
            blob_id=new_id("blob_"),
            property=planned.property,
            type=planned.type,
            key_prefix=planned.key_prefix,
            url=self.blobs.url(stored.storage_key),
            storage_key=stored.storage_key,
            filename=filename,
            size_bytes=stored.size_bytes,
            mime_type=mime_type,
            hash=stored.sha256,
            metadata=planned.metadata,
            data=value,
        )

    def _from_content(self, planned: PlannedBlob, content: StoredContent) -> StoredBlob:
        """Bytes stored already (streamed, or a confirmed upload): only the record is made."""
        stored = StoredBytes(content.storage_key, content.sha256, content.size_bytes, b"")
        return self._record(planned, stored, content.mime_type, content.filename)

    def _reference(self, planned: PlannedBlob, url: str) -> StoredBlob:
        """canonicalize_source: false — the URL is referenced as it is, nothing is copied."""
        return StoredBlob(
            blob_id=new_id("blob_"),
            property=planned.property,
            type=planned.type,
            key_prefix=planned.key_prefix,
            url=url,
            storage_key=None,
            filename=url.rsplit("/", 1)[-1] or None,
            size_bytes=None,
            mime_type=None,
            hash=None,
            metadata=planned.metadata,
        )
