"""Storing a blob's bytes as a content: once, at its final key, deduplicated by the registry.

- Bytes whose SHA-256 is known first (inline data, JSON values) are not written at all when the
  registry holds them already: the blob just holds that content (no S3 request).
- Streamed bytes go to a multipart upload at a new key; once their hash is known, a registered
  content of the same hash is held instead and the new parts are aborted, never completed.
- A presigned upload's file is read once, to hash and sniff it, and becomes the content where it
  was put; nothing is copied.
- With `force` (force_remirror) the bytes are written again and registered as a copy of their
  own, which later bytes never deduplicate against.
Whoever loses a race to register the same new bytes holds the winner and drops its own copy.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from bucketd import metrics
from bucketd.server.domain.contents import Content, content_key, new_content_id
from bucketd.server.domain.mime import SNIFF_BYTES
from bucketd.server.domain.writes import PendingContent
from bucketd.server.errors import FailedPrecondition, InvalidArgument
from bucketd.server.services.background import DEFAULT_CLEANUP_SECONDS
from bucketd.server.services.content_writer import ContentWriter, ProgressSaver, Written
from bucketd.server.services.part_hashing import PartHashing
from bucketd.server.services.ports import BlobStorage, ContentRegistry

Clock = Callable[[], datetime]


class Contents:
    def __init__(
        self,
        *,
        registry: ContentRegistry,
        storage: BlobStorage,
        clock: Clock,
        cleanup_seconds: float = DEFAULT_CLEANUP_SECONDS,
    ) -> None:
        self._registry = registry
        self._storage = storage
        self._clock = clock
        self._cleanup_seconds = cleanup_seconds  # BUCKETD_CLEANUP_SECONDS

    @property
    def storage(self) -> BlobStorage:
        return self._storage

    async def _hold(self, namespace_id: str, sha256: str, ref: str) -> Content | None:
        """Hold the registered content with these bytes, if there is one: a dedup hit."""
        held = await self._registry.hold(namespace_id, sha256, ref)
        if held is not None:
            metrics.DEDUP_HITS.inc()
        return held

    async def store_bytes(
        self,
        namespace_id: str,
        data: bytes,
        *,
        mime_type: str,
        ref: str,
        pending: PendingContent,
        force: bool,
    ) -> Content:
        """Bytes in memory (inline, JSON): held if registered, else one PUT and registered."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not force:
            held = await self._hold(namespace_id, sha256, ref)
            if held is not None:
                return held
        await self._storage.put(pending.storage_key, data, mime_type=mime_type)
        content = Content(
            content_id=pending.content_id,
            namespace_id=namespace_id,
            sha256=sha256,
            storage_key=pending.storage_key,
            size_bytes=len(data),
            mime_type=mime_type,
        )
        return await self._register(content, ref, canonical=not force)

    async def open_writer(
        self,
        pending: PendingContent,
        *,
        mime_type: str,
        progress: ProgressSaver | None = None,
        crc32c: bool = False,
        hashing: PartHashing | None = None,
    ) -> ContentWriter:
        """A writer at the pending content's key (its multipart upload started unless resumed,
        a resumed session's tail read back)."""
        if pending.multipart_id is None:
            multipart_id = await self._storage.start_multipart(
                pending.storage_key, mime_type=mime_type
            )
            pending = PendingContent(
                content_id=pending.content_id,
                storage_key=pending.storage_key,
                multipart_id=multipart_id,
                owned=pending.owned,
            )
        writer = ContentWriter(
            self._storage,
            pending,
            progress=progress,
            crc32c=crc32c,
            hashing=hashing,
            cleanup_seconds=self._cleanup_seconds,
        )
        await writer.load_tail()
        return writer

    async def write_stream(self, writer: ContentWriter, chunks: AsyncIterator[bytes]) -> Written:
        """Every chunk into the writer; its multipart upload is aborted if anything fails."""
        try:
            async for chunk in chunks:
                await writer.write(chunk)
            return await writer.finish()
        except BaseException:
            await writer.abort()
            raise

    async def commit_writer(
        self,
        namespace_id: str,
        writer: ContentWriter,
        written: Written,
        *,
        mime_type: str,
        ref: str,
        force: bool,
    ) -> Content:
        """The writer's bytes as a content: a registered one of the same hash is held instead
        (the new parts are aborted), else the multipart upload completes and is registered."""
        sha256 = written.sha256
        if sha256 is not None and not force:
            held = await self._hold(namespace_id, sha256, ref)
            if held is not None:
                await writer.abort()
                return held
        try:
            await writer.complete()
        except BaseException:
            await writer.abort()
            raise
        if sha256 is None:  # a resumed session: earlier streams' bytes were never hashed here
            sha256, _, _ = await self.hash_stored(writer.key)
        content = Content(
            content_id=writer.pending.content_id,
            namespace_id=namespace_id,
            sha256=sha256,
            storage_key=writer.key,
            size_bytes=written.size_bytes,
            mime_type=mime_type,
        )
        return await self._register(content, ref, canonical=not force)

    async def adopt(
        self, namespace_id: str, pending: PendingContent, *, mime_type: str, ref: str
    ) -> tuple[Content, bytes]:
        """A presigned upload's file as a content, read once: (the content, its first bytes).
        When the bytes were registered already, that content is held and returned: the caller
        deletes the file once it no longer needs it."""
        try:
            sha256, first, size = await self.hash_stored(pending.storage_key)
        except InvalidArgument as error:
            raise FailedPrecondition(f"the uploaded file is gone: {error.message}") from error
        held = await self._hold(namespace_id, sha256, ref)
        if held is not None:
            return held, first
        content = Content(
            content_id=pending.content_id,
            namespace_id=namespace_id,
            sha256=sha256,
            storage_key=pending.storage_key,
            size_bytes=size,
            mime_type=mime_type,
        )
        return await self._registry.register(content, ref, canonical=True, now=self._clock()), first

    async def hash_stored(self, key: str) -> tuple[str, bytes, int]:
        """SHA-256, first bytes and size of stored bytes, read once. Each chunk is hashed in a
        worker thread (hashlib lets go of the GIL) while the next one is read."""
        hasher, head, size = hashlib.sha256(), bytearray(), 0
        hashing: asyncio.Future[None] | None = None
        async for chunk in self._storage.read(key):
            if hashing is not None:
                await hashing
            hashing = asyncio.ensure_future(asyncio.to_thread(hasher.update, chunk))
            size += len(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
        if hashing is not None:
            await hashing
        return hasher.hexdigest(), bytes(head), size

    async def _register(self, content: Content, ref: str, *, canonical: bool) -> Content:
        registered = await self._registry.register(
            content, ref, canonical=canonical, now=self._clock()
        )
        if registered.content_id != content.content_id:  # lost a race to the same bytes
            await self._storage.delete(content.storage_key)
        return registered

    @staticmethod
    def new_pending(namespace_id: str) -> PendingContent:
        """Where a blob's new bytes will go, chosen before the first byte."""
        content_id = new_content_id()
        return PendingContent(
            content_id=content_id, storage_key=content_key(namespace_id, content_id)
        )
