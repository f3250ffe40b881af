"""Streamed uploads (ObjectService.UploadObject): bytes flow from the client to S3 multipart
uploads in bounded parts, hashed on the way, and become an object when the stream half-closes.

Without a session, any failure, cancel, deadline or shutdown aborts every multipart upload the
stream started. With a session (StartUploadSession), uploaded parts survive a broken stream and
a new stream continues from GetUploadSession's persisted sizes; abandoned sessions expire.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import google_crc32c

from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import StoredContent
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Namespace, ObjectRecord
from bucketd.server.domain.object_plan import BlobInput, ObjectInput
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.stored import StoredBytes
from bucketd.server.domain.streams import (
    StreamBlobSpec,
    StreamChunk,
    StreamHeader,
    StreamLimits,
    check_chunk,
    check_header,
    typed_spec,
)
from bucketd.server.errors import BucketdError, InvalidArgument, NotFound, PayloadTooLarge
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.objects import ObjectService, collect_unreferenced
from bucketd.server.services.ports import ObjectStore
from bucketd.server.storage.blobs import MultipartWriter, S3BlobStore
from bucketd.server.storage.sessions import MongoSessions

Clock = Callable[[], datetime]
Message = StreamHeader | StreamChunk | StreamBlobSpec


def session_not_found(session_id: str) -> NotFound:
    return NotFound(
        f"Upload session '{session_id}' not found or expired",
        details={"resource": "upload_session", "id": session_id},
    )


class _Blob:
    """The receiving end of one announced blob."""

    def __init__(self, writer: MultipartWriter) -> None:
        self.writer = writer
        # CRC32C is checked only when this stream saw every byte (not after a resume).
        fresh = not writer.parts
        self.crc: Any = google_crc32c.Checksum() if fresh else None  # type: ignore[no-untyped-call]


class StreamUploads:
    def __init__(
        self,
        *,
        objects: ObjectService,
        object_store: ObjectStore,
        buckets: BucketService,
        blobs: S3BlobStore,
        sessions: MongoSessions,
        limits: StreamLimits,
        max_blobs: int,
        session_ttl: timedelta,
        clock: Clock,
    ) -> None:
        self._objects = objects
        self._object_store = object_store
        self._buckets = buckets
        self._blobs = blobs
        self._sessions = sessions
        self._limits = limits
        self._max_blobs = max_blobs
        self._session_ttl = session_ttl
        self._clock = clock

    async def _check(
        self, namespace: Namespace, header: StreamHeader
    ) -> tuple[StreamHeader, BucketSchema]:
        """Refuse a header the object could never be made of, before any byte is stored.

        Returns it with each blob's type filled in from the schema, and the schema's fields.
        """
        check_header(header, self._limits, self._max_blobs)
        bucket = await self._buckets.get(namespace, header.bucket_identifier)
        schema = bucket.bucket_schema
        typed = [typed_spec(schema, index, spec) for index, spec in enumerate(header.blobs)]
        return dataclasses.replace(header, blobs=typed), schema

    async def start_session(
        self, namespace: Namespace, header: StreamHeader
    ) -> tuple[str, datetime]:
        header, _ = await self._check(namespace, header)
        if not header.blobs:
            raise InvalidArgument("header.blobs: a session announces its blobs in the header")
        writers = [
            await self._blobs.start_multipart(
                namespace.namespace_id, mime_type=spec.mime_type or mime.OCTET_STREAM
            )
            for spec in header.blobs
        ]
        session_id, now = new_id("ses_"), self._clock()
        expires_at = now + self._session_ttl
        await self._sessions.insert(
            {
                "_id": session_id,
                "namespace_id": namespace.namespace_id,
                "created_at": now,
                "expires_at": expires_at,
                "header": dataclasses.asdict(header),
                "blobs": [{"key": w.key, "upload_id": w.upload_id, "parts": []} for w in writers],
            }
        )
        return session_id, expires_at

    async def session_status(
        self, namespace: Namespace, session_id: str
    ) -> tuple[list[int], datetime]:
        session = await self._live_session(namespace, session_id)
        sizes = [sum(int(p["Size"]) for p in blob["parts"]) for blob in session["blobs"]]
        return sizes, session["expires_at"]

    async def _live_session(self, namespace: Namespace, session_id: str) -> dict[str, Any]:
        session = await self._sessions.get(namespace.namespace_id, session_id)
        if session is None or session["expires_at"] <= self._clock():
            raise session_not_found(session_id)
        return session

    async def upload(self, namespace: Namespace, messages: AsyncIterator[Message]) -> ObjectRecord:
        """The object the stream makes. A refused stream is read to its end (bounded) before the
        error is answered: a client still sending when the status arrives would otherwise see
        gRPC's "Internal error from Core" instead of it."""
        try:
            return await self._upload(namespace, messages)
        except BucketdError:
            await self._drain(messages)
            raise

    async def _drain(self, messages: AsyncIterator[Message]) -> None:
        received = 0
        with contextlib.suppress(BucketdError):
            async for message in messages:
                if isinstance(message, StreamChunk):
                    received += len(message.data)
                    if received > self._limits.max_blob_bytes:
                        return

    async def _upload(self, namespace: Namespace, messages: AsyncIterator[Message]) -> ObjectRecord:
        first = await anext(messages, None)
        if not isinstance(first, StreamHeader):
            raise InvalidArgument("the first message of an UploadObject stream must be the header")
        session_id = first.session_id
        schema = BucketSchema({})  # a session's blobs were checked when it started
        if session_id:
            session = await self._live_session(namespace, session_id)
            header = _header_of(session["header"])
            blobs = [
                _Blob(self._blobs.resume_multipart(b["key"], b["upload_id"], b["parts"]))
                for b in session["blobs"]
            ]
        else:
            (header, schema), blobs = await self._check(namespace, first), []
            for spec in header.blobs:
                blobs.append(_Blob(await self._start(namespace, spec)))
        stored: list[StoredBytes] = []
        receiving = True
        specs = list(header.blobs)
        try:
            await self._receive(messages, blobs, session_id, announce=(namespace, schema, specs))
            receiving = False
            header = dataclasses.replace(header, blobs=specs)
            stored = await self._commit(header, blobs, namespace.namespace_id)
            record = await self._objects.create(
                namespace, header.bucket_identifier, _object_input(header, stored)
            )
        except BaseException:
            if session_id and receiving:
                raise  # the session outlives a broken stream: its parts are persisted
            for blob in blobs:
                await blob.writer.abort()
            if session_id:
                await self._sessions.delete(session_id)
            keys = {item.storage_key for item in stored}
            await collect_unreferenced(
                self._object_store, self._blobs, namespace.namespace_id, keys
            )
            raise
        if session_id:
            await self._sessions.delete(session_id)
        return record

    async def _receive(
        self,
        messages: AsyncIterator[Message],
        blobs: list[_Blob],
        session_id: str | None,
        *,
        announce: tuple[Namespace, BucketSchema, list[StreamBlobSpec]],
    ) -> None:
        async for message in messages:
            if isinstance(message, StreamHeader):
                raise InvalidArgument("only the first message of the stream may be a header")
            if isinstance(message, StreamBlobSpec):
                blobs.append(await self._announce(message, session_id, *announce))
                continue
            blob = blobs[message.blob_index] if 0 <= message.blob_index < len(blobs) else None
            check_chunk(
                message,
                blobs=len(blobs),
                written=blob.writer.size if blob else 0,
                limits=self._limits,
            )
            assert blob is not None
            parts_before = len(blob.writer.parts)
            await blob.writer.write(message.data)
            if blob.crc is not None:
                blob.crc.update(message.data)
            if session_id and len(blob.writer.parts) != parts_before:
                await self._sessions.save_parts(session_id, message.blob_index, blob.writer.parts)

    async def _announce(
        self,
        spec: StreamBlobSpec,
        session_id: str | None,
        namespace: Namespace,
        schema: BucketSchema,
        specs: list[StreamBlobSpec],
    ) -> _Blob:
        """A blob announced mid-stream: checked like the header's, then its upload starts."""
        if session_id:
            raise InvalidArgument("a session announces all its blobs in its header")
        if len(specs) >= self._max_blobs:
            raise PayloadTooLarge(f"at most {self._max_blobs} blobs per object")
        specs.append(typed_spec(schema, len(specs), spec))
        return _Blob(await self._start(namespace, spec))

    async def _start(self, namespace: Namespace, spec: StreamBlobSpec) -> MultipartWriter:
        # With expected_sha256 the parts go straight to the content address: _commit checks the
        # hash before the multipart upload completes, so wrong bytes are never committed there.
        return await self._blobs.start_multipart(
            namespace.namespace_id,
            mime_type=spec.mime_type or mime.OCTET_STREAM,
            sha256=spec.expected_sha256,
        )

    async def _commit(
        self, header: StreamHeader, blobs: list[_Blob], namespace_id: str
    ) -> list[StoredBytes]:
        """Check sizes and checksums, then move each blob to its content address."""
        if not header.blobs:
            raise InvalidArgument("the stream announced no blob")
        stored: list[StoredBytes] = []
        for index, (spec, blob) in enumerate(zip(header.blobs, blobs, strict=True)):
            where = f"header.blobs[{index}]"
            writer = blob.writer
            if spec.expected_size is not None and writer.size != spec.expected_size:
                raise InvalidArgument(
                    f"{where}: received {writer.size} bytes, expected_size_bytes says "
                    f"{spec.expected_size}; nothing was stored"
                )
            if spec.expected_crc32c is not None and blob.crc is not None:
                actual = int.from_bytes(blob.crc.digest(), "big")
                if actual != spec.expected_crc32c:
                    raise InvalidArgument(
                        f"{where}: CRC32C {actual} != expected {spec.expected_crc32c}"
                    )
            if spec.expected_sha256 and writer.sha256 and writer.sha256 != spec.expected_sha256:
                raise InvalidArgument(
                    f"{where}: SHA-256 {writer.sha256} != expected_sha256; nothing was stored"
                )
            result = await self._blobs.finish(
                writer, namespace_id=namespace_id, force=header.force_remirror
            )
            stored.append(result)
            if spec.expected_sha256 and result.sha256 != spec.expected_sha256:
                raise InvalidArgument(f"{where}: SHA-256 {result.sha256} != expected_sha256")
        return stored

    async def expire_sessions(self) -> int:
        """Abort the multipart uploads of abandoned sessions and forget them."""
        expired = await self._sessions.expired(self._clock())
        for session in expired:
            for blob in session["blobs"]:
                await self._blobs.resume_multipart(blob["key"], blob["upload_id"], []).abort()
            await self._sessions.delete(session["_id"])
        return len(expired)


def _header_of(raw: dict[str, Any]) -> StreamHeader:
    return StreamHeader(**{**raw, "blobs": [StreamBlobSpec(**b) for b in raw["blobs"]]})


def _object_input(header: StreamHeader, stored: list[StoredBytes]) -> ObjectInput:
    blobs = []
    for spec, result in zip(header.blobs, stored, strict=True):
        sniffed = mime.sniff(result.head, filename=spec.filename)
        content = StoredContent(
            storage_key=result.storage_key,
            sha256=result.sha256,
            size_bytes=result.size_bytes,
            mime_type=spec.mime_type or sniffed,
            filename=spec.filename,
        )
        blobs.append(
            BlobInput(
                property=spec.property, type=spec.type, metadata=spec.metadata, content=content
            )
        )
    return ObjectInput(
        key_prefix=header.key_prefix,
        blobs=blobs,
        metadata=header.metadata,
        skip_duplicates=header.skip_duplicates,
        force_remirror=header.force_remirror,
        idempotency_key=header.idempotency_key,
    )
