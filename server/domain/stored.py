"""What the storage adapters hand back about bytes: plain values, shared by services and storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True)
class Usage:
    """What a bucket holds, computed from its objects when read (never a drifting counter)."""

    object_count: int = 0
    total_size_bytes: int = 0
    last_upload_at: datetime | None = None
