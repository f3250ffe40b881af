"""A content's SHA-256 and CRC32C, and each part's own CRC32C (what S3 checks the part against,
so that its payload need not be signed), computed in a worker thread as the bytes arrive.

hashlib and crc32c release the GIL on large buffers: hashing in a thread lets the second core
hash while the event loop receives the next bytes. Each piece is hashed as soon as it arrives,
while it is still in the CPU's caches: on this machine SHA-256 + CRC32C of freshly received
bytes cost 1.05 CPU-s per GiB when hashed per 8 MiB part, once the part was complete, and 0.75
per 1 MiB piece as it came (0.66 on bytes already in cache: bench/upload.py's floor). The
pieces of one content are hashed one after the other, in order, so the digests come out as if
computed inline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import SimpleQueue

from crc32c import CRC32CHash
from crc32c import crc32c as crc32c_value

# Shared by every upload: a content's pieces are hashed in order by one job at a time.
_WORKERS = ThreadPoolExecutor(thread_name_prefix="bucketd-hashing")


def s3_checksum(crc32c: int) -> str:
    """A CRC32C as S3 takes it (ChecksumCRC32C): base64 of the big-endian value."""
    return base64.b64encode(crc32c.to_bytes(4, "big")).decode()


@dataclass(frozen=True)
class _Piece:
    data: bytes | memoryview
    whole: bool  # also part of the whole content's digests


@dataclass(frozen=True)
class _Mark:
    """Everything before is hashed: `done` gets the part's CRC32C (and a new part starts) when
    `ends_part`, else an empty string."""

    done: Future[str]
    ends_part: bool


class PartHashing:
    def __init__(self, *, whole: bool, crc32c: bool = False) -> None:
        """`whole`: also digest the whole content (a writer that sees every byte): its SHA-256,
        and its CRC32C when `crc32c` (only a client's expected_crc32c needs it)."""
        self._sha256 = hashlib.sha256() if whole else None
        self._crc32c = CRC32CHash() if whole and crc32c else None
        self._part = 0  # the CRC32C of the current part so far
        self._queue: SimpleQueue[_Piece | _Mark] = SimpleQueue()
        self._lock = threading.Lock()
        self._draining = False
        self._failure: BaseException | None = None

    def add(self, data: bytes | memoryview, *, whole: bool = True) -> None:
        """Hash the next piece of the current part (and of the whole content when `whole`:
        false for bytes the whole digests already cover, a session's tail read back)."""
        self._put(_Piece(data, whole))

    def part(self) -> asyncio.Future[str]:
        """End the current part; resolves to its ChecksumCRC32C once its pieces are hashed."""
        return self._mark(ends_part=True)

    def restart_part(self) -> None:
        """Forget the current part's bytes: the next writer of a session reads them back as its
        tail and adds them again (only to the part: the whole digests cover them)."""
        self._put(_Mark(Future(), ends_part=True))

    async def settled(self) -> None:
        """Every piece added so far is hashed."""
        await self._mark(ends_part=False)

    def _mark(self, *, ends_part: bool) -> asyncio.Future[str]:
        done: Future[str] = Future()
        self._put(_Mark(done, ends_part))
        return asyncio.wrap_future(done)

    def _put(self, item: _Piece | _Mark) -> None:
        self._queue.put(item)
        with self._lock:
            if self._draining:
                return
            self._draining = True
        _WORKERS.submit(self._drain)

    def _drain(self) -> None:
        """In a worker: hash what is queued, in order, until nothing is."""
        while True:
            with self._lock:
                if self._queue.empty():
                    self._draining = False
                    return
            item = self._queue.get()
            if isinstance(item, _Mark):
                self._settle(item)
            elif self._failure is None:
                try:
                    self._hash(item)
                except BaseException as failure:  # handed to whoever waits
                    self._failure = failure

    def _hash(self, piece: _Piece) -> None:
        self._part = crc32c_value(piece.data, self._part)
        if piece.whole and self._sha256 is not None:
            self._sha256.update(piece.data)
        if piece.whole and self._crc32c is not None:
            self._crc32c.update(piece.data)

    def _settle(self, mark: _Mark) -> None:
        if self._failure is not None:
            mark.done.set_exception(self._failure)
        elif mark.ends_part:
            mark.done.set_result(s3_checksum(self._part))
            self._part = 0
        else:
            mark.done.set_result("")

    @property
    def whole(self) -> bool:
        """Whether this digests the whole content (else only each part's CRC32C)."""
        return self._sha256 is not None

    async def digests(self) -> tuple[str | None, int | None]:
        """(SHA-256 hex, CRC32C) of the whole pieces added so far; None for what is not computed
        (a writer resumed after earlier bytes knows neither)."""
        await self.settled()
        return (
            self._sha256.hexdigest() if self._sha256 is not None else None,
            int.from_bytes(self._crc32c.digest(), "big") if self._crc32c is not None else None,
        )


class SessionHashes:
    """The SHA-256 of unfinished upload sessions, kept between their appends on this instance:
    an append that continues a session where this instance's previous append left it continues
    its hash, instead of reading the whole object back from S3 once it is complete (an HTTP
    resumable upload is one append per request). Bounded (the oldest are forgotten) and lost
    with the process: the read-back stays the fallback."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._kept: dict[tuple[str, int], tuple[PartHashing, int]] = {}

    def keep(self, session: str, blob: int, hashing: PartHashing, size: int) -> None:
        self._kept.pop((session, blob), None)
        self._kept[(session, blob)] = (hashing, size)
        while len(self._kept) > self._capacity:
            del self._kept[next(iter(self._kept))]

    def take(self, session: str, blob: int, size: int) -> PartHashing | None:
        """The hash of the session's blob after exactly its first `size` bytes, if this
        instance has it."""
        kept = self._kept.pop((session, blob), None)
        return kept[0] if kept is not None and kept[1] == size else None
