"""PartHashing: pieces hashed in a worker as they arrive come out as if hashed inline, checked
against google-crc32c (a second CRC32C implementation) and hashlib."""

from __future__ import annotations

import base64
import hashlib
import os

import google_crc32c
import pytest

from bucketd.server.services.part_hashing import PartHashing


def _crc(data: bytes) -> str:
    value: int = google_crc32c.value(data)
    return base64.b64encode(value.to_bytes(4, "big")).decode()


async def test_parts_and_the_whole_come_out_as_if_hashed_inline() -> None:
    hashing = PartHashing(whole=True, crc32c=True)
    tail = os.urandom(1000)  # covered by the whole digests already: the part's only
    first: list[bytes | memoryview] = [
        tail,
        os.urandom(300_000),
        memoryview(os.urandom(70_000))[5:],
    ]
    second = [os.urandom(1), b"", os.urandom(2_000_000)]
    hashing.add(tail, whole=False)
    for piece in first[1:]:
        hashing.add(piece)
    first_crc = hashing.part()
    for piece in second:
        hashing.add(piece)
    second_crc = hashing.part()
    assert await first_crc == _crc(b"".join(bytes(p) for p in first))
    assert await second_crc == _crc(b"".join(second))
    whole = b"".join(bytes(p) for p in first[1:] + second)
    sha256, crc32c = await hashing.digests()
    assert sha256 == hashlib.sha256(whole).hexdigest()
    assert crc32c == google_crc32c.value(whole)


async def test_a_restarted_part_forgets_its_bytes_not_the_whole() -> None:
    hashing = PartHashing(whole=True)
    hashing.add(b"kept as the tail")
    hashing.restart_part()  # the next append reads the tail back
    hashing.add(b"kept as the tail", whole=False)
    hashing.add(b", then more")
    both = b"kept as the tail, then more"
    assert await hashing.part() == _crc(both)
    assert (await hashing.digests())[0] == hashlib.sha256(both).hexdigest()


async def test_a_piece_that_cannot_be_hashed_fails_whoever_waits() -> None:
    hashing = PartHashing(whole=True)
    hashing.add(b"fine")
    hashing.add("not bytes")  # type: ignore[arg-type]
    hashing.add(b"after")
    with pytest.raises(TypeError):
        await hashing.part()
    with pytest.raises(TypeError):
        await hashing.digests()
