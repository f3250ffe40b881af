"""A content's SHA-256 and CRC32C, computed part by part in a worker thread, and each part's
own CRC32C (what S3 checks the part against, so that its payload need not be signed).

hashlib releases the GIL on large buffers: hashing in a thread lets the second core hash while
the event loop receives the next bytes. The parts are hashed one after the other, in order
(each waits for the one before), so the whole-content digests come out as if computed inline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterable, Sequence

from crc32c import CRC32CHash
from crc32c import crc32c as crc32c_value


def part_checksum(pieces: Iterable[bytes | memoryview]) -> str:
    """A part's CRC32C as S3 takes it (ChecksumCRC32C): base64 of the big-endian value."""
    value = 0
    for piece in pieces:
        value = crc32c_value(piece, value)
    return base64.b64encode(value.to_bytes(4, "big")).decode()


class PartHashing:
    def __init__(self, *, whole: bool, crc32c: bool = False) -> None:
        """`whole`: also digest the whole content (a writer that sees every byte): its SHA-256,
        and its CRC32C when `crc32c` (only a client's expected_crc32c needs it)."""
        self._sha256 = hashlib.sha256() if whole else None
        self._crc32c = CRC32CHash() if whole and crc32c else None
        self._last: asyncio.Future[str] | None = None

    def part(self, pieces: Sequence[bytes | memoryview]) -> asyncio.Future[str]:
        """Hash the next part, given as its pieces (after the parts before it); resolves to
        its ChecksumCRC32C."""
        previous = self._last

        async def digest() -> str:
            if previous is not None:
                await previous
            return await asyncio.to_thread(self._digest, pieces)

        self._last = asyncio.ensure_future(digest())
        return self._last

    def _digest(self, pieces: Sequence[bytes | memoryview]) -> str:
        for piece in pieces:
            if self._sha256 is not None:
                self._sha256.update(piece)
            if self._crc32c is not None:
                self._crc32c.update(piece)
        return part_checksum(pieces)

    @property
    def whole(self) -> bool:
        """Whether this digests the whole content (else only each part's CRC32C)."""
        return self._sha256 is not None

    async def settled(self) -> None:
        """Every part handed over so far is hashed."""
        if self._last is not None:
            await self._last

    def digests(self, more: Iterable[bytes | memoryview] = ()) -> tuple[str | None, int | None]:
        """(SHA-256 hex, CRC32C) of the parts hashed, then `more` (bytes not yet a part; the
        running digests stay as they are); None for what is not computed (a writer resumed
        after earlier bytes knows neither)."""
        sha256 = self._sha256.copy() if self._sha256 is not None else None
        crc32c = self._crc32c.copy() if self._crc32c is not None else None
        for data in more:
            if sha256 is not None:
                sha256.update(data)
            if crc32c is not None:
                crc32c.update(data)
        return (
            sha256.hexdigest() if sha256 is not None else None,
            int.from_bytes(crc32c.digest(), "big") if crc32c is not None else None,
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

    def keep(self, session: str, blob: int, hashing: PartHashing, parts: int) -> None:
        self._kept.pop((session, blob), None)
        self._kept[(session, blob)] = (hashing, parts)
        while len(self._kept) > self._capacity:
            del self._kept[next(iter(self._kept))]

    def take(self, session: str, blob: int, parts: int) -> PartHashing | None:
        """The hash of the session's blob after exactly `parts` parts, if this instance has it."""
        kept = self._kept.pop((session, blob), None)
        return kept[0] if kept is not None and kept[1] == parts else None
