"""UploadObject's deserializer reads what protobuf reads, whatever the bytes: chunk messages in
the usual layout as views (no copy), everything else through protobuf itself."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from bucketd.chunks import Chunk
from bucketd.server.api.chunk_wire import upload_request_of
from bucketd.v1 import objects_pb2 as pb

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)


def _chunk_message(blob_index: int, write_offset: int, data: bytes) -> bytes:
    chunk = pb.BlobChunk(blob_index=blob_index, write_offset=write_offset, data=data)
    return pb.UploadObjectRequest(chunk=chunk).SerializeToString()


def _same_as_protobuf(raw: bytes) -> pb.UploadObjectRequest | Chunk | None:
    """What upload_request_of reads, checked against protobuf (None: both refuse the bytes)."""
    try:
        expected = pb.UploadObjectRequest.FromString(raw)
    except DecodeError:
        with pytest.raises(DecodeError):
            upload_request_of(raw)
        return None
    read = upload_request_of(raw)
    as_message = read.message() if isinstance(read, Chunk) else read
    assert as_message == expected
    return read


@given(INT32, INT64, st.binary(max_size=300))
def test_every_chunk_reads_as_protobuf_reads_it(index: int, offset: int, data: bytes) -> None:
    _same_as_protobuf(_chunk_message(index, offset, data))


@given(st.integers(0, 2**31 - 1), st.integers(0, 2**63 - 1), st.binary(min_size=1))
def test_a_usual_chunk_is_a_view_into_the_message(index: int, offset: int, data: bytes) -> None:
    raw = _chunk_message(index, offset, data)
    read = _same_as_protobuf(raw)
    assert isinstance(read, Chunk) and isinstance(read.data, memoryview)
    assert read.data.obj is raw and read.data == data


@given(
    INT32,
    INT64,
    st.binary(max_size=40),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255), st.booleans()), max_size=4),
)
def test_mutated_messages_read_as_protobuf_reads_them(
    index: int, offset: int, data: bytes, mutations: list[tuple[int, int, bool]]
) -> None:
    """Flipped, inserted and dropped bytes: truncated lengths, other tags, non-minimal
    varints — whatever protobuf makes of them (or refuses), so does the deserializer."""
    raw = bytearray(_chunk_message(index, offset, data))
    for position, value, insert in mutations:
        at = min(position, len(raw))
        if insert:
            raw.insert(at, value)
        elif at < len(raw):
            raw[at] = value
        else:
            del raw[-1:]
    _same_as_protobuf(bytes(raw))


@given(st.binary(max_size=64))
def test_any_bytes_read_as_protobuf_reads_them(raw: bytes) -> None:
    _same_as_protobuf(raw)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\x12\x09\x1a\x03abc\x08\x01\x10\x02", "fields in another order"),
        (b"\x12\x0a\x1a\x01a\x1a\x01b\x08\x01", "data twice"),
        (b"\x12\x06\x08\x01\x08\x02\x1a\x00", "blob_index twice"),
        (b"\x12\x07\x08\x01\x20\x05\x1a\x00", "an unknown field"),
        (b"\x12\x0d\x08\x80\x80\x80\x80\x80\x80\x80\x80\x01\x1a\x00", "a 10-byte varint"),
        (b"\x12\x08\x08\x80\x80\x80\x80\x10\x1a\x00", "a blob_index past int32"),
        (b"\x0a\x00\x12\x03\x1a\x01a", "a header, then a chunk"),
    ],
)
def test_unusual_layouts_go_to_protobuf(raw: bytes, why: str) -> None:
    read = _same_as_protobuf(raw)
    assert not isinstance(read, Chunk), why
