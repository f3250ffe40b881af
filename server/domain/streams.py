"""Messages of a streamed upload (UploadObject), as the use case sees them, and their rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bucketd.server.domain.blob_data import Streamed
from bucketd.server.domain.checksums import parse_checksum
from bucketd.server.errors import InvalidArgument, OffsetMismatch, PayloadTooLarge


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
    leave_open: bool = False  # with session_id: append, and do not finish the object


@dataclass(frozen=True, kw_only=True)
class SessionHeader:
    """What a session keeps of the stream that started it: its header, and the ids its blobs
    were given (a resumed stream plans the object again and continues the same blobs)."""

    stream: StreamHeader
    blob_ids: list[str]
    # The upload URL's secret, hashed (domain/upload_urls.py), and whose session it is: what a
    # call that holds the URL instead of an API key acts as.
    secret_hash: str = ""
    organization_id: str = ""


# The field an offset error names (in its message and its details' `field`, which the
# gateway respells for HTTP, where the offset is the Upload-Offset header).
WRITE_OFFSET = "chunk.write_offset"


@dataclass(frozen=True)
class StreamChunk:
    blob_index: int
    write_offset: int
    data: bytes | memoryview  # a view into the received message (server/api/chunk_wire.py)


@dataclass(frozen=True)
class StreamLimits:
    max_blob_bytes: int
    max_chunk_bytes: int


def check_header(header: StreamHeader, limits: StreamLimits) -> None:
    for index, spec in enumerate(header.blobs):
        where = f"header.blobs[{index}]"
        if spec.expected_sha256 is not None:
            parse_checksum(f"{where}.expected_sha256", spec.expected_sha256)
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
        of_blob = f" of blob_index {chunk.blob_index}" if blobs > 1 else ""
        raise OffsetMismatch(
            f"{WRITE_OFFSET} {chunk.write_offset}: the next byte{of_blob} expected is at offset "
            f"{written} (offsets must be contiguous)",
            details={"persisted_offset": str(written), "field": WRITE_OFFSET},
        )
    if written + len(chunk.data) > limits.max_blob_bytes:
        raise PayloadTooLarge(
            f"blob {chunk.blob_index} exceeds the blob limit of {limits.max_blob_bytes} bytes",
            details={"limit_bytes": str(limits.max_blob_bytes)},
        )


class WrittenBytes(Protocol):
    """What a content writer saw (services/content_writer.Written)."""

    @property
    def size_bytes(self) -> int: ...
    @property
    def crc32c(self) -> int | None: ...


def check_written(where: str, spec: Streamed, written: WrittenBytes) -> None:
    """The bytes received match the size and CRC32C the header announced; else nothing of
    them is kept. The CRC32C is checked when this stream saw every byte (a resumed session's
    is not); the SHA-256 is checked where every source's is (services/blob_sources.py)."""
    if spec.expected_size is not None and written.size_bytes != spec.expected_size:
        raise InvalidArgument(
            f"{where}: received {written.size_bytes} bytes, expected_size_bytes says "
            f"{spec.expected_size}; nothing was stored"
        )
    crc32c = written.crc32c
    if spec.expected_crc32c is not None and crc32c is not None and crc32c != spec.expected_crc32c:
        raise InvalidArgument(f"{where}: CRC32C {crc32c} != expected {spec.expected_crc32c}")
