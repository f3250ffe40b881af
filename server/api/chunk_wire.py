"""UploadObject's chunk messages, read without protobuf's two copies of their bytes.

A 1 MiB chunk message is almost all data, and upb copies that data twice: into the parsed
message, then out again when `chunk.data` is read (~0.15 of the gRPC route's 2.6 CPU-s per
GiB). A chunk message laid out as protobuf encoders write it — field 2 holding a
BlobChunk whose fields 1, 2, 3 come in that order, at most once, and nothing else — is read here
as a `Chunk` whose data is a view into the received bytes. Any other message, and any chunk
laid out otherwise (unknown or repeated fields, another order, numbers protobuf would truncate),
is parsed by protobuf: what comes out is always what protobuf reads (tests/unit/test_chunk_wire.py
compares the two on generated and mutated messages).
"""

from __future__ import annotations

from typing import Any

from bucketd.chunks import Chunk
from bucketd.server.api.handlers import ServerInterceptor
from bucketd.v1 import objects_pb2 as pb

UPLOAD_OBJECT = "/bucketd.v1.ObjectService/UploadObject"
_CHUNK = 2 << 3 | 2  # UploadObjectRequest.chunk: field 2, length-delimited
_BLOB_INDEX = 1 << 3  # BlobChunk.blob_index: field 1, varint
_WRITE_OFFSET = 2 << 3  # BlobChunk.write_offset: field 2, varint
_DATA = 3 << 3 | 2  # BlobChunk.data: field 3, length-delimited
_FIELDS = (_BLOB_INDEX, _WRITE_OFFSET, _DATA)  # in the order encoders write them
_INT32_END = 2**31


def upload_request_of(raw: bytes) -> pb.UploadObjectRequest | Chunk:
    """UploadObject's request deserializer."""
    chunk = _chunk(raw)
    return chunk if chunk is not None else pb.UploadObjectRequest.FromString(raw)


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    """The varint at `at` and the offset after it; (-1, at) unless it has at most 9 bytes
    (values below 2**63: protobuf's 10-byte ones are negative numbers, left to protobuf)."""
    value = shift = 0
    for end in range(at, min(at + 9, len(raw))):
        value |= (raw[end] & 0x7F) << shift
        if raw[end] < 0x80:
            return value, end + 1
        shift += 7
    return -1, at


def _chunk(raw: bytes) -> Chunk | None:
    """The chunk, if `raw` is a chunk message in the usual layout; else None."""
    length, at = _varint(raw, 1) if raw[:1] == bytes([_CHUNK]) else (-1, 0)
    if length != len(raw) - at:  # the chunk is the whole message
        return None
    values: dict[int, int] = {}
    data: bytes | memoryview = b""
    while at < len(raw):
        tag = raw[at]
        value, at = _varint(raw, at + 1)
        if tag not in _FIELDS or value < 0 or any(tag <= seen for seen in values):
            return None
        values[tag] = value
        if tag == _DATA:
            if value != len(raw) - at:  # the data ends the message
                return None
            data, at = memoryview(raw)[at:], len(raw)
    blob_index = values.get(_BLOB_INDEX, 0)
    if blob_index >= _INT32_END:
        return None
    return Chunk(blob_index=blob_index, write_offset=values.get(_WRITE_OFFSET, 0), data=data)


class ChunkViews(ServerInterceptor):
    """Gives UploadObject the deserializer above (its generated one is protobuf's)."""

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if handler is not None and details.method == UPLOAD_OBJECT:
            return handler._replace(request_deserializer=upload_request_of)
        return handler
