"""Write leases: every object write in flight is recorded, in its object's record, before its
first byte — so that a janitor on any instance can reclaim what a dead writer left.

A live writer renews its lease; once the lease has run out, the janitor aborts the multipart
uploads of its pending contents, deletes bytes that were never registered, releases the holder
references the write may have taken, and marks a new object FAILED. A resumable upload session
is a write whose lease is the session's expiry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bucketd.server.domain.ids import new_id
from bucketd.server.domain.streams import SessionHeader


class WriteKind(StrEnum):
    CREATE = "create"  # inline data, URL and S3 sources, upload_id references
    STREAM = "stream"  # UploadObject without a session
    SESSION = "session"  # a resumable upload session (its id is the session id)
    CONFIRM = "confirm"  # a presigned upload becoming an object


@dataclass(frozen=True)
class Part:
    """An uploaded part of a multipart upload."""

    number: int
    etag: str
    size: int
    crc32c: str | None = None  # ChecksumCRC32C S3 checked the part against (base64)


def contiguous(parts: list[Part]) -> list[Part]:
    """The parts numbered 1, 2, 3, … without a gap: what a resumed upload continues after."""
    run: list[Part] = []
    for part in sorted(parts, key=lambda p: p.number):
        if part.number != len(run) + 1:
            break
        run.append(part)
    return run


@dataclass(frozen=True)
class Tail:
    """A session's bytes after its last whole part, kept as their own S3 object (`tail_key`)
    until they fill the next part (as tusd's S3 store keeps an incomplete part), so that every
    byte a stream received counts. The object may hold more than `size` bytes (a later stream
    wrote it, then stopped before saying so): its first `size` bytes are the tail."""

    size: int
    after_parts: int  # valid while the contiguous parts number exactly this many


@dataclass(frozen=True, kw_only=True)
class PendingContent:
    """Bytes being written for a blob, registered once complete; reclaimed if the write dies."""

    content_id: str
    storage_key: str
    multipart_id: str | None = None
    parts: list[Part] = field(default_factory=list)
    # False for a presigned upload's file: the upload owns it, the janitor must not delete it.
    owned: bool = True
    tail: Tail | None = None
    head: bytes = b""  # the first bytes (for sniffing the type once a session is resumed)

    @property
    def tail_key(self) -> str:
        return f"{self.storage_key}.tail"

    def live_tail(self) -> Tail | None:
        """The tail, unless a later part has taken its bytes."""
        tail = self.tail
        return tail if tail and tail.after_parts == len(contiguous(self.parts)) else None

    @property
    def persisted(self) -> int:
        """Every byte kept: the contiguous parts, then the tail."""
        tail = self.live_tail()
        return sum(part.size for part in contiguous(self.parts)) + (tail.size if tail else 0)


@dataclass(frozen=True, kw_only=True)
class WriteLease:
    write_id: str
    kind: WriteKind
    lease_until: datetime
    new_object: bool
    # Holder references this write may take; all are released if it dies (a release of a
    # reference never taken does nothing).
    refs: list[str] = field(default_factory=list)
    pending: list[PendingContent] = field(default_factory=list)
    # A session's stream header: what a resumed stream continues.
    header: SessionHeader | None = None
    # A session's stream in flight holds it until then (renewed as it goes), so that two
    # streams never write the same parts at once; a newer request that wants the session
    # names itself in wanted_by, and the holder lets go.
    stream_token: str | None = None
    streaming_until: datetime | None = None
    wanted_by: str | None = None
    wanted_until: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.lease_until <= now


class Hold(StrEnum):
    """What taking (or renewing) a session's hold answered."""

    TAKEN = "taken"  # the caller holds the session
    WANTED = "wanted"  # the caller holds it, but a newer request asks for it: let go
    BUSY = "busy"  # another request holds it
    GONE = "gone"  # no live session any more (finished, cancelled, reclaimed)


SESSION_PREFIX = "ses_"


def new_write_id(kind: WriteKind) -> str:
    return new_id(SESSION_PREFIX if kind is WriteKind.SESSION else "wrt_")
