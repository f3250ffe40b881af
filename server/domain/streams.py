"""Messages of a streamed upload (UploadObject), as the use case sees them, and their rules."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from bucketd.server.domain import mime
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.errors import InvalidArgument, OutOfRange, PayloadTooLarge

_SHA256 = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True, kw_only=True)
class StreamBlobSpec:
    property: str
    type: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    expected_size: int | None = None
    expected_sha256: str | None = None
    expected_crc32c: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StreamHeader:
    bucket_identifier: str = ""
    key_prefix: str | None = None
    metadata: dict[str, Any] | None = None
    skip_duplicates: bool = False
    force_remirror: bool = False
    idempotency_key: str | None = None
    blobs: list[StreamBlobSpec] = field(default_factory=list)
    session_id: str | None = None


@dataclass(frozen=True)
class StreamChunk:
    blob_index: int
    write_offset: int
    data: bytes


@dataclass(frozen=True)
class StreamLimits:
    max_blob_bytes: int
    max_chunk_bytes: int


def check_header(header: StreamHeader, limits: StreamLimits, max_blobs: int) -> None:
    if len(header.blobs) > max_blobs:
        raise PayloadTooLarge(f"header.blobs: at most {max_blobs} blobs per object")
    for index, spec in enumerate(header.blobs):
        where = f"header.blobs[{index}]"
        if spec.expected_sha256 is not None and not _SHA256.match(spec.expected_sha256):
            raise InvalidArgument(f"{where}.expected_sha256: must be 64 lowercase hex characters")
        if spec.expected_size is not None and spec.expected_size > limits.max_blob_bytes:
            raise PayloadTooLarge(
                f"{where}.expected_size_bytes: {spec.expected_size} exceeds the blob limit of "
                f"{limits.max_blob_bytes} bytes",
                details={"limit_bytes": str(limits.max_blob_bytes)},
            )


def check_chunk(chunk: StreamChunk, *, blobs: int, written: int, limits: StreamLimits) -> None:
    """A chunk must name an announced blob, start where the blob ends, and fit the limits."""
    if not 0 <= chunk.blob_index < blobs:
        raise InvalidArgument(f"chunk.blob_index {chunk.blob_index} names no announced blob")
    if len(chunk.data) > limits.max_chunk_bytes:
        raise PayloadTooLarge(
            f"chunk.data: {len(chunk.data)} bytes exceeds the per-message limit of "
            f"{limits.max_chunk_bytes} bytes",
            details={"limit_bytes": str(limits.max_chunk_bytes)},
        )
    if chunk.write_offset != written:
        raise OutOfRange(
            f"chunk.write_offset {chunk.write_offset} of blob {chunk.blob_index}: the next byte "
            f"expected is at offset {written} (offsets must be contiguous)",
            details={"persisted_offset": str(written)},
        )
    if written + len(chunk.data) > limits.max_blob_bytes:
        raise PayloadTooLarge(
            f"blob {chunk.blob_index} exceeds the blob limit of {limits.max_blob_bytes} bytes",
            details={"limit_bytes": str(limits.max_blob_bytes)},
        )


def typed_spec(schema: BucketSchema, index: int, spec: StreamBlobSpec) -> StreamBlobSpec:
    """The spec checked against the schema, with its type filled in from it."""
    where = f"header.blobs[{index}]"
    field_type = schema.property(spec.property, where=f"{where}.property").type
    if spec.type is not None and spec.type != field_type:
        raise InvalidArgument(
            f"{where}.type: {spec.type!r} does not match the schema type {field_type!r}"
        )
    mime.check_fits(f"{where}.mime_type", field_type, spec.mime_type or mime.OCTET_STREAM)
    return dataclasses.replace(spec, type=field_type)
