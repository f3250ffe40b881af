"""A multipart part's bytes as aiohttp sends them: the pieces they arrived in, never joined.

A part is the 1-2 MiB chunks it was made of, as they came off the wire. Joining them is a copy
of every byte, and so was each other way of handing botocore a body: it wraps bytes in a BytesIO
that aiohttp copies whole before sending, and on Python < 3.13.2 aiohttp joins the headers with
a bytes body. Together those copies were a third of bucketd's CPU per uploaded GiB (py-spy; see
docs/architecture.md).

botocore takes any body with `read` (a stream: it asks for `Expect: 100-continue`, as boto3 does
for files, so aiohttp sends the headers on their own), its length from `len()`, and rewinds it
with `seek(0)` before a retry. aiohttp takes any `Payload` as it is and calls `write`.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload


class PartBody(Payload):
    _autoclose = True  # bytes in memory: nothing to close

    def __init__(self, pieces: Sequence[bytes | memoryview]) -> None:
        super().__init__(pieces, content_type="application/octet-stream")
        self._pieces = pieces
        self._length = self._size = sum(len(piece) for piece in pieces)
        self._position = 0  # of read(), for readers other than aiohttp

    def __len__(self) -> int:
        return self._length

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        """Each piece as a memoryview (the transport sends it without a copy)."""
        left = self._length if content_length is None else min(content_length, self._length)
        for piece in self._pieces:
            if left <= 0:
                break
            view = memoryview(piece)[:left]
            left -= len(view)
            await writer.write(view)

    def read(self, size: int = -1) -> bytes:
        """A copy of the next bytes: only for readers other than aiohttp."""
        whole = b"".join(self._pieces)
        end = self._length if size < 0 else min(self._length, self._position + size)
        data, self._position = whole[self._position : end], max(self._position, end)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        """botocore rewinds a body before it retries; write() always sends every piece."""
        base = {0: 0, 1: self._position, 2: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._pieces).decode(encoding, errors)
