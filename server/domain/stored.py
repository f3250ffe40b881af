"""What the storage adapters hand back about bytes: plain values, shared by services and storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredBytes:
    """Bytes at their content address."""

    storage_key: str
    sha256: str
    size_bytes: int
    head: bytes  # the first bytes, for MIME sniffing


@dataclass(frozen=True)
class Head:
    """An S3 object's size, ETag (without quotes) and type."""

    size_bytes: int
    etag: str
    content_type: str | None


@dataclass(frozen=True)
class Fetched:
    """A URL's body, as a stream, with what the server said about it."""

    chunks: AsyncIterator[bytes]
    content_type: str | None
    filename: str | None
