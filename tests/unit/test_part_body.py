"""PartBody: botocore reads it as a file (length, read, rewind); aiohttp writes its pieces."""

from __future__ import annotations

from typing import Any

from bucketd.server.storage.part_body import PartBody

PIECES = [b"abc", b"", b"defgh", b"ij"]


class Collecting:
    def __init__(self) -> None:
        self.written: list[Any] = []

    async def write(self, chunk: Any) -> None:
        self.written.append(chunk)


def test_botocore_reads_it_as_a_file_and_rewinds_it() -> None:
    body = PartBody(PIECES)
    assert len(body) == body.size == 10
    assert body.read(4) == b"abcd" and body.tell() == 4
    assert body.read() == b"efghij" and body.read() == b""
    assert body.seek(0) == 0 and body.read(100) == b"abcdefghij"
    assert body.seek(-2, 2) == 8 and body.read() == b"ij"
    assert body.decode() == "abcdefghij"


async def test_aiohttp_gets_each_piece_uncopied_and_no_more_than_the_length() -> None:
    body, writer = PartBody(PIECES), Collecting()
    await body.write(writer)  # type: ignore[arg-type]
    assert all(isinstance(chunk, memoryview) for chunk in writer.written)
    assert [chunk.obj for chunk in writer.written] == [b"abc", b"", b"defgh", b"ij"]
    assert b"".join(writer.written) == b"abcdefghij"
    short = Collecting()
    await body.write_with_length(short, 5)  # type: ignore[arg-type]
    assert b"".join(short.written) == b"abcde"
