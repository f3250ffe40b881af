"""Writing one content's bytes into a multipart upload at its final key, hashed on the way.

Bytes are buffered into parts of PART_BYTES (the chunks as they came, never joined: see
storage/part_body.py), hashed in a worker thread as they arrive (services/part_hashing.py);
each full part is uploaded with its own CRC32C while the next ones fill, up to PARTS_IN_FLIGHT
at once (S3 servers answer parallel parts faster, as boto3's managed transfer knows), so memory
stays at a few parts per blob.
Parts may finish out of order: `persisted` counts only the contiguous run of acknowledged parts
from the first one — what a resumed session may safely continue from. A session's writer that
stops keeps the bytes after its last part as the session's tail (domain/writes.Tail); the next
writer starts from it. A writer resumed after earlier bytes cannot know their hash.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from bucketd.server.domain.mime import OCTET_STREAM, SNIFF_BYTES
from bucketd.server.domain.writes import Part, PendingContent, Tail, contiguous
from bucketd.server.errors import FailedPrecondition
from bucketd.server.services.background import DEFAULT_CLEANUP_SECONDS, clean_up
from bucketd.server.services.part_hashing import PartHashing
from bucketd.server.services.ports import BlobStorage

log = logging.getLogger("bucketd.storage")
# S3 parts are >= 5 MiB but the last, and at most 10,000 (16 MiB: 156 GiB). Each part costs
# ~1.5 ms of botocore and aiohttp CPU: 16 MiB parts spend half what 8 MiB ones did (bench/upload.py
# measured 0.1-0.2 CPU-s per GiB less, and faster), and two in flight keep the peak RSS of a
# 1 MiB-chunk gRPC stream under 48 MiB (three took it to 60).
PART_BYTES = 16 * 1024 * 1024
PARTS_IN_FLIGHT = 2


class ProgressSaver(Protocol):
    """Where a session's writer records how far it got (its write lease)."""

    async def parts(self, parts: list[Part], head: bytes) -> None: ...
    async def tail(self, tail: Tail, head: bytes) -> None: ...


@dataclass(frozen=True)
class Written:
    """What a writer saw: size, first bytes, and the checksums when it saw every byte."""

    size_bytes: int
    head: bytes
    sha256: str | None
    crc32c: int | None


class ContentWriter:
    def __init__(
        self,
        storage: BlobStorage,
        pending: PendingContent,
        *,
        part_bytes: int = PART_BYTES,
        parts_in_flight: int = PARTS_IN_FLIGHT,
        progress: ProgressSaver | None = None,
        crc32c: bool = False,
        hashing: PartHashing | None = None,
        cleanup_seconds: float = DEFAULT_CLEANUP_SECONDS,
    ) -> None:
        """`crc32c`: also compute the whole content's CRC32C (to check a client's expected one;
        each part's own is always computed, for S3). `hashing`: a resumed session's hash as its
        previous writer left it, after exactly the parts resumed (see `hash_state`)."""
        assert pending.multipart_id is not None, "start the multipart upload first"
        self._storage = storage
        self.pending = pending
        self._multipart_id = pending.multipart_id
        self._part_bytes = part_bytes
        self._parts_in_flight = parts_in_flight
        self._cleanup_seconds = cleanup_seconds
        self._progress = progress
        resumed = contiguous(pending.parts)
        self._done: dict[int, Part] = {part.number: part for part in resumed}
        self._next_number = len(resumed) + 1
        self._tail = pending.live_tail()  # loaded into the buffer by load_tail()
        self.size = pending.persisted
        fresh = self.size == 0
        self._hashing = hashing if hashing is not None else PartHashing(whole=fresh, crc32c=crc32c)
        self._head = bytearray(pending.head if not fresh else b"")
        self._buffer: list[bytes | memoryview] = []  # the next part's bytes, as they came
        self._buffered = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._saving = asyncio.Lock()  # parts land out of order: save the latest list last

    @property
    def key(self) -> str:
        return self.pending.storage_key

    @property
    def multipart_id(self) -> str:
        return self._multipart_id

    @property
    def parts(self) -> list[Part]:
        return contiguous(list(self._done.values()))

    async def load_tail(self) -> None:
        """A resumed session's tail, read back into the buffer: the next part starts with it."""
        if self._tail is None or self._buffer:
            return
        async for data in self._storage.read(self.pending.tail_key):
            piece = bytes(data[: self._tail.size - self._buffered])
            self._keep(piece)
            # a hash carried over from the previous append already covers the tail
            self._hashing.add(piece, whole=False)
            if self._buffered >= self._tail.size:
                break
        if self._buffered != self._tail.size:
            raise FailedPrecondition(
                "the upload session lost its stored bytes and cannot continue: start a new upload"
            )

    def _keep(self, data: bytes | memoryview) -> None:
        if data:
            self._buffer.append(data)
            self._buffered += len(data)

    async def write(self, chunk: bytes | memoryview) -> None:
        if len(self._head) < SNIFF_BYTES and len(self._head) == self.size:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self.size += len(chunk)
        while chunk:  # parts are exactly part_bytes long, whatever the chunks' sizes
            room = self._part_bytes - self._buffered
            if len(chunk) <= room:
                piece, chunk = chunk, b""
            else:  # a chunk across a part boundary (a copy, unless it is a memoryview)
                piece, chunk = chunk[:room], chunk[room:]
            self._keep(piece)
            self._hashing.add(piece)
            if self._buffered == self._part_bytes:
                await self._send()

    async def _send(self) -> None:
        """Hand the buffer over as the next part (uploaded once its pieces are hashed); wait
        while too many parts are in flight."""
        pieces, self._buffer, self._buffered = self._buffer, [], 0
        number, self._next_number = self._next_number, self._next_number + 1
        checksum = self._hashing.part()
        self._in_flight.add(asyncio.create_task(self._upload(number, pieces, checksum)))
        while len(self._in_flight) >= self._parts_in_flight:
            await self._land(asyncio.FIRST_COMPLETED)

    async def _land(self, when: str) -> None:
        """Wait for parts in flight; the first failure among those that finished is raised."""
        finished, self._in_flight = await asyncio.wait(self._in_flight, return_when=when)
        for task in finished:
            task.result()

    async def _upload(
        self, number: int, pieces: list[bytes | memoryview], checksum: asyncio.Future[str]
    ) -> None:
        part = await self._storage.upload_part(
            self.key, self._multipart_id, number, pieces, crc32c=await checksum
        )
        self._done[number] = part
        if self._progress is not None:
            async with self._saving:
                await self._progress.parts(self.parts, bytes(self._head))

    def hash_state(self) -> tuple[PartHashing, int] | None:
        """After stop(): the whole-content hash and the bytes it covers, if they are all kept
        (every part landed, and the bytes after them kept as the tail): a later writer may
        continue it (SessionHashes)."""
        sent = self._next_number - 1
        if not self._hashing.whole or self._in_flight or len(self.parts) != sent:
            return None
        if self._buffered and self._tail != Tail(size=self._buffered, after_parts=sent):
            return None
        self._hashing.restart_part()
        return self._hashing, self.size

    async def seen(self) -> Written:
        """What has arrived so far (buffered bytes included), before the last part is sent."""
        sha256, crc32c = await self._hashing.digests()
        return Written(self.size, bytes(self._head), sha256, crc32c)

    async def finish(self) -> Written:
        """Upload what is buffered as the last part (one empty part for an empty content)."""
        if self._buffer or self._next_number == 1:
            await self._send()
        while self._in_flight:  # a part that failed fails the stream now, not once all land
            await self._land(asyncio.FIRST_EXCEPTION)
        return await self.seen()

    async def complete(self) -> None:
        await self._storage.complete_multipart(self.key, self._multipart_id, self.parts)
        if self._tail is not None or self.pending.tail is not None:
            await self._forget_tail()

    async def _forget_tail(self) -> None:
        try:
            await self._storage.delete(self.pending.tail_key)
        except Exception as error:  # left to the namespace's purge; never worth failing for
            log.warning("deleting the tail %s failed: %s", self.pending.tail_key, error)

    async def abort(self) -> None:
        """Drop every part (best effort: the janitor aborts what a failure here leaves), in the
        background once the call has no time left for it (services/background.py)."""
        in_flight, self._in_flight = self._in_flight, set()
        for task in in_flight:
            task.cancel()
        await clean_up(
            self._drop(in_flight),
            seconds=self._cleanup_seconds,
            what=f"aborting multipart upload {self._multipart_id} of {self.key}",
        )

    async def _drop(self, in_flight: set[asyncio.Task[None]]) -> None:
        if in_flight:
            await asyncio.wait(in_flight)
        await self._storage.abort_multipart(self.key, self._multipart_id)

    async def stop(self) -> None:
        """A session's stream ends unfinished: the parts in flight land, and the bytes after the
        last part are kept as the session's tail, so that every byte received counts. If a part
        failed, the offset stays where the saved parts (and tail) put it."""
        if self._in_flight:
            await asyncio.wait(self._in_flight)
        self._in_flight = set()
        sent = self._next_number - 1
        unchanged = self._tail is not None and self._tail == Tail(self._buffered, sent)
        if self._progress is None or len(self.parts) != sent or not self._buffer or unchanged:
            return
        tail = Tail(size=self._buffered, after_parts=sent)
        try:
            data = b"".join(self._buffer)
            await self._storage.put(self.pending.tail_key, data, mime_type=OCTET_STREAM)
            await self._progress.tail(tail, bytes(self._head))
        except Exception as error:  # the offset stays at the last part: the client resends
            log.warning("keeping the tail of %s failed: %s", self.key, error)
            return
        self._tail = tail
