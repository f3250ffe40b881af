"""In-memory fakes of the byte ports (the content registry, S3, URL fetching) and a clock.

They keep one shared journal of what happened, in order, so that a test can check the order of
writes (the record before the bytes). Integration and end-to-end tests use the real servers.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import google_crc32c

from bucketd.server.domain.contents import Content, dedup_key
from bucketd.server.domain.stored import Fetched, Head
from bucketd.server.domain.writes import Part
from bucketd.server.errors import InvalidArgument, StorageUnavailable
from bucketd.server.services.part_hashing import s3_checksum

Journal = list[tuple[str, ...]]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclasses.dataclass
class _Entry:
    content: Content
    dedup: str
    holders: list[str]
    released_at: datetime | None = None
    deleting: bool = False


class FakeRegistry:
    def __init__(self, journal: Journal) -> None:
        self.entries: dict[str, _Entry] = {}
        self._journal = journal

    def _live(self, namespace_id: str, dedup: str) -> _Entry | None:
        return next(
            (
                e
                for e in self.entries.values()
                if e.content.namespace_id == namespace_id and e.dedup == dedup and not e.deleting
            ),
            None,
        )

    async def hold(self, namespace_id: str, sha256: str, ref: str) -> Content | None:
        entry = self._live(namespace_id, sha256)
        if entry is None:
            return None
        if ref not in entry.holders:
            entry.holders.append(ref)
        entry.released_at = None
        self._journal.append(("hold", entry.content.content_id, ref))
        return entry.content

    async def hold_id(self, namespace_id: str, content_id: str, ref: str) -> Content | None:
        entry = self.entries.get(content_id)
        if entry is None or entry.deleting:
            return None
        return await self.hold(namespace_id, entry.dedup, ref)

    async def register(
        self, content: Content, ref: str, *, canonical: bool, now: datetime
    ) -> Content:
        dedup = dedup_key(content.sha256, content.content_id, canonical=canonical)
        winner = self._live(content.namespace_id, dedup)
        if winner is not None:
            return await self.hold(content.namespace_id, dedup, ref) or winner.content
        self.entries[content.content_id] = _Entry(content, dedup, [ref])
        self._journal.append(("register", content.content_id, ref))
        return content

    async def find(self, content_id: str) -> Content | None:
        entry = self.entries.get(content_id)
        return entry.content if entry and not entry.deleting else None

    async def release(self, namespace_id: str, refs: list[str], *, now: datetime) -> None:
        for entry in self.entries.values():
            if entry.content.namespace_id == namespace_id:
                entry.holders = [h for h in entry.holders if h not in refs]
        await self.start_grace(now, namespace_id=namespace_id)
        self._journal.append(("release", *refs))

    async def start_grace(self, now: datetime, *, namespace_id: str | None = None) -> int:
        started = 0
        for entry in self.entries.values():
            if not entry.holders and entry.released_at is None and not entry.deleting:
                entry.released_at = now
                started += 1
        return started

    async def collectable(self, *, released_before: datetime, limit: int = 100) -> list[str]:
        return [
            cid
            for cid, e in self.entries.items()
            if e.deleting or (e.released_at is not None and e.released_at <= released_before)
        ][:limit]

    async def start_deleting(self, content_id: str, *, released_before: datetime) -> Content | None:
        entry = self.entries.get(content_id)
        if entry is None:
            return None
        unheld = not entry.holders and entry.released_at is not None
        if entry.deleting or (unheld and entry.released_at <= released_before):  # type: ignore[operator]
            entry.deleting = True
            return entry.content
        return None

    async def forget(self, content_id: str) -> None:
        self.entries.pop(content_id, None)

    def holders(self, content_id: str) -> list[str]:
        return list(self.entries[content_id].holders)

    def forget_namespace(self, namespace_id: str) -> int:
        """PurgeStore.delete_contents: the namespace's records (its bytes go by prefix)."""
        gone = [i for i, e in self.entries.items() if e.content.namespace_id == namespace_id]
        for content_id in gone:
            del self.entries[content_id]
        return len(gone)


class FakeStorage:
    """S3 in a dict; `fail` names operations that raise StorageUnavailable."""

    def __init__(self, journal: Journal) -> None:
        self.objects: dict[str, bytes] = {}
        self.multipart: dict[str, tuple[str, dict[int, bytes]]] = {}
        self.fail: set[str] = set()
        self._journal = journal
        self._counter = 0

    def _op(self, name: str, key: str) -> None:
        if name in self.fail:
            raise StorageUnavailable(f"S3 {name} failed: down")
        self._journal.append((name, key))

    def url(self, key: str) -> str:
        return f"s3://fake/{key}"

    async def put(self, key: str, data: bytes, *, mime_type: str) -> None:
        self._op("put", key)
        self.objects[key] = bytes(data)

    async def start_multipart(self, key: str, *, mime_type: str) -> str:
        self._op("start", key)
        self._counter += 1
        multipart_id = f"mp{self._counter}"
        self.multipart[multipart_id] = (key, {})
        return multipart_id

    async def upload_part(
        self,
        key: str,
        multipart_id: str,
        number: int,
        pieces: Sequence[bytes | memoryview],
        *,
        crc32c: str | None = None,
    ) -> Part:
        self._op("part", key)
        data = b"".join(pieces)
        if crc32c is not None and crc32c != s3_checksum(google_crc32c.value(data)):
            raise InvalidArgument(f"part {number}: the CRC32C does not match (BadDigest)")
        self.multipart[multipart_id][1][number] = bytes(data)
        return Part(number=number, etag=f"e{number}", size=len(data), crc32c=crc32c)

    async def complete_multipart(self, key: str, multipart_id: str, parts: list[Part]) -> None:
        self._op("complete", key)
        _, uploaded = self.multipart.pop(multipart_id)
        self.objects[key] = b"".join(uploaded[p.number] for p in parts)

    async def abort_multipart(self, key: str, multipart_id: str) -> None:
        self._op("abort", key)
        self.multipart.pop(multipart_id, None)

    async def abort_all(self, key: str) -> int:
        ids = [mid for mid, (k, _) in self.multipart.items() if k == key]
        for multipart_id in ids:
            await self.abort_multipart(key, multipart_id)
        return len(ids)

    async def multipart_uploads(self, *, started_before: datetime) -> list[tuple[str, str]]:
        """Every open one (the fake keeps no start times: each is old enough)."""
        return [(key, multipart_id) for multipart_id, (key, _) in self.multipart.items()]

    async def delete(self, key: str) -> None:
        self._op("delete", key)
        self.objects.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        keys = [key for key in self.objects if key.startswith(prefix)]
        for key in keys:
            await self.delete(key)
        return len(keys)

    async def head(self, key: str) -> Head | None:
        data = self.objects.get(key)
        return None if data is None else Head(len(data), hashlib.md5(data).hexdigest(), None)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        self._op("read", key)
        yield self.objects[key]

    async def read_range(
        self, key: str, *, offset: int, length: int, slice_bytes: int
    ) -> AsyncGenerator[bytes]:
        self._op("read_range", key)
        data = self.objects[key][offset : offset + length]
        for start in range(0, len(data), slice_bytes):
            yield data[start : start + slice_bytes]

    async def read_source(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        yield self.objects[key]

    async def presigned_put(self, key: str, *, content_type: str, expires_seconds: int) -> str:
        return f"https://fake/{key}?put"

    async def presigned_get(self, key: str, *, expires_seconds: int = 3600) -> str:
        return f"https://fake/{key}?get"


class FakeFetcher:
    """URL -> body chunks; a missing URL raises as an unreachable source would."""

    def __init__(self, bodies: dict[str, list[bytes]]) -> None:
        self.bodies = bodies

    @asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[Fetched]:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in self.bodies[url]:
                yield chunk

        yield Fetched(chunks=chunks(), content_type="application/octet-stream", filename=None)
