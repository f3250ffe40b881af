"""What the storage adapters hand back about bytes: plain values, shared by services and storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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
class ObjectStats:
    """The list-objects `stats`: over every object the filters match, not just one page."""

    total_objects: int = 0
    total_blobs: int = 0
    objects_by_status: dict[str, int] = field(default_factory=dict)

    @property
    def avg_blobs_per_object(self) -> float:
        return self.total_blobs / self.total_objects if self.total_objects else 0.0


@dataclass(frozen=True)
class Usage:
    """What a bucket holds, computed from its objects when read (never a drifting counter)."""

    object_count: int = 0
    total_size_bytes: int = 0
    last_upload_at: datetime | None = None
