"""Which bytes of a blob a read serves: the rules of ReadObject's read_offset and read_limit
(after Cloud Storage's: a negative offset counts back from the end, a limit of 0 is no limit)."""

from __future__ import annotations

from dataclasses import dataclass

from bucketd.server.errors import InvalidArgument, RangeNotSatisfiable


@dataclass(frozen=True)
class ByteRange:
    """`length` bytes from `offset`."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        """The offset after the last byte served."""
        return self.offset + self.length


def served(size: int, *, read_offset: int, read_limit: int) -> ByteRange:
    """The range of a `size`-byte blob that the request reads; an offset at or past the end
    is out of range, except 0 on an empty blob (reading all of nothing)."""
    if read_limit < 0:
        raise InvalidArgument(
            f"read_limit: {read_limit} is negative; send 0 to read to the end",
            details={"field": "read_limit"},
        )
    offset = max(0, size + read_offset) if read_offset < 0 else read_offset
    if offset >= size and not (offset == 0 and size == 0):
        raise RangeNotSatisfiable(
            f"read_offset: {read_offset} is past the end of the blob ({size} bytes); "
            + (f"read from 0 to {size - 1}" if size else "the blob is empty: read from 0"),
            details={"field": "read_offset", "size_bytes": str(size)},
        )
    remaining = size - offset
    return ByteRange(offset, min(read_limit, remaining) if read_limit else remaining)
