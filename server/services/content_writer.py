"""Writing one content's bytes into a multipart upload at its final key, hashed on the way.

Bytes are buffered into parts of PART_BYTES; a full part is uploaded while the next one fills
(at most one part in flight), so that receiving and uploading overlap and memory stays at about
two parts per blob. `persisted` counts the bytes of acknowledged parts: what a resumed session
continues from. A writer resumed after earlier parts cannot know the hash of their bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import google_crc32c

from bucketd.server.domain.mime import SNIFF_BYTES
from bucketd.server.domain.writes import Part, PendingContent
from bucketd.server.services.ports import BlobStorage

# S3 parts are >= 5 MiB but the last; 8 MiB keeps 5 GiB under 640 parts (of 10,000).
PART_BYTES = 8 * 1024 * 1024

PartsSaved = Callable[[list[Part]], Awaitable[None]]


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
        on_parts: PartsSaved | None = None,
    ) -> None:
        assert pending.multipart_id is not None, "start the multipart upload first"
        self._storage = storage
        self.pending = pending
        self._multipart_id = pending.multipart_id
        self._part_bytes = part_bytes
        self._on_parts = on_parts
        self.parts: list[Part] = list(pending.parts)
        self.size = pending.persisted
        fresh = not self.parts
        self._sha256 = hashlib.sha256() if fresh else None
        self._crc32c: Any = google_crc32c.Checksum() if fresh else None  # type: ignore[no-untyped-call]
        self._head = bytearray()
        self._buffer = bytearray()
        self._in_flight: asyncio.Task[None] | None = None

    @property
    def key(self) -> str:
        return self.pending.storage_key

    @property
    def multipart_id(self) -> str:
        return self._multipart_id

    @property
    def persisted(self) -> int:
        return sum(part.size for part in self.parts)

    async def write(self, chunk: bytes) -> None:
        if self._sha256 is not None:
            self._sha256.update(chunk)
            self._crc32c.update(chunk)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= self._part_bytes:
            await self._send(last=False)

    async def _send(self, *, last: bool) -> None:
        """Hand the buffer over as the next part; wait for the previous one first."""
        await self._settle()
        data, self._buffer = self._buffer, bytearray()  # handed over, not copied
        number = len(self.parts) + 1
        task = asyncio.create_task(self._upload(number, data))
        if last:
            await task
        else:
            self._in_flight = task

    async def _upload(self, number: int, data: bytearray) -> None:
        part = await self._storage.upload_part(self.key, self._multipart_id, number, data)
        self.parts.append(part)
        if self._on_parts is not None:
            await self._on_parts(list(self.parts))

    async def _settle(self) -> None:
        task, self._in_flight = self._in_flight, None
        if task is not None:
            await task

    def seen(self) -> Written:
        """What has arrived so far (buffered bytes included), before the last part is sent."""
        return Written(
            size_bytes=self.size,
            head=bytes(self._head),
            sha256=self._sha256.hexdigest() if self._sha256 is not None else None,
            crc32c=int.from_bytes(self._crc32c.digest(), "big") if self._crc32c else None,
        )

    async def finish(self) -> Written:
        """Upload what is buffered as the last part (one empty part for an empty content)."""
        if self._buffer or not self.parts:
            await self._send(last=True)
        await self._settle()
        return self.seen()

    async def complete(self) -> None:
        await self._storage.complete_multipart(self.key, self._multipart_id, self.parts)

    async def abort(self) -> None:
        """Drop every part (best effort: the janitor aborts what a failure here leaves)."""
        task, self._in_flight = self._in_flight, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        with contextlib.suppress(Exception):
            await self._storage.abort_multipart(self.key, self._multipart_id)

    async def stop(self) -> None:
        """A broken session stream: let the part in flight land (it is persisted), keep the rest."""
        with contextlib.suppress(Exception):
            await self._settle()
