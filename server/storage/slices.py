"""A body read as slices of one size: what S3's HTTP response delivers comes in the socket's
pieces (tens of KiB); a ReadObject message carries 1-2 MiB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from bucketd.server.errors import S3Unavailable


class Body(Protocol):
    async def read(self, amt: int | None = None) -> bytes: ...


async def sliced(body: Body, length: int, slice_bytes: int) -> AsyncIterator[bytes]:
    """`length` bytes of `body` as slices of `slice_bytes` (the last one shorter); a body that
    ends early raises, as a short read is a broken transfer, never a short blob."""
    left = length
    while left:
        want = min(slice_bytes, left)
        pieces: list[bytes] = []
        got = 0
        while got < want:
            piece = await body.read(want - got)
            if not piece:
                raise S3Unavailable(f"S3 GET failed: the body ended {left - got} bytes early")
            pieces.append(piece)
            got += len(piece)
        left -= want
        yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
