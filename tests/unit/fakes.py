"""In-memory fakes of the ingest ports, for unit tests of the pipeline's rules (no I/O).

They keep one shared journal of what happened, in order, so that a test can check the order of
writes (the record before the bytes). Integration and end-to-end tests use the real servers.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bucketd.server.domain.contents import Content, dedup_key, holder_ref
from bucketd.server.domain.models import ObjectRecord
from bucketd.server.domain.status import Status
from bucketd.server.domain.stored import Fetched, Head, ObjectStats, Usage
from bucketd.server.domain.writes import Part, PendingContent, WriteLease
from bucketd.server.errors import StorageUnavailable

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
        self, key: str, multipart_id: str, number: int, data: bytes | bytearray
    ) -> Part:
        self._op("part", key)
        self.multipart[multipart_id][1][number] = bytes(data)
        return Part(number=number, etag=f"e{number}", size=len(data))

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
        yield self.objects[key]

    async def read_source(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        yield self.objects[key]

    async def presigned_put(self, key: str, *, content_type: str, expires_seconds: int) -> str:
        return f"https://fake/{key}?put"

    async def presigned_get(self, key: str, *, expires_seconds: int = 3600) -> str:
        return f"https://fake/{key}?get"


class FakeObjects:
    """ObjectStore, WriteStore and ClaimStore over one dict of records."""

    def __init__(self, journal: Journal) -> None:
        self.records: dict[str, ObjectRecord] = {}
        self.reclaimed: set[str] = set()
        self.claims: dict[str, str] = {}
        self._journal = journal

    # ObjectStore
    async def insert(self, record: ObjectRecord) -> None:
        self._journal.append(("insert", record.object_id, record.status))
        self.records[record.object_id] = record

    async def get(self, namespace_id: str, bucket_id: str, object_id: str) -> ObjectRecord | None:
        return self.records.get(object_id)

    async def update_fields(self, record: ObjectRecord) -> bool:
        self.records[record.object_id] = record
        return True

    async def delete(self, namespace_id: str, bucket_id: str, object_id: str) -> bool:
        return self.records.pop(object_id, None) is not None

    async def page(self, *args: Any, **kwargs: Any) -> tuple[list[ObjectRecord], int | None]:
        return list(self.records.values()), None

    async def holder_of_sha256(self, namespace_id: str, bucket_id: str, sha256: str) -> str | None:
        for record in self.records.values():
            if record.status != Status.FAILED and any(b.sha256 == sha256 for b in record.blobs):
                return record.object_id
        return None

    async def usage(self, namespace_id: str, bucket_ids: list[str]) -> dict[str, Usage]:
        return {}

    async def aggregate(
        self, namespace_id: str, bucket_id: str, query: dict[str, Any], stages: list[Any]
    ) -> list[dict[str, Any]]:
        return []

    async def soft_delete(
        self, namespace_id: str, bucket_id: str, object_ids: list[str], *, marks: dict[str, Any]
    ) -> list[str]:
        return []

    async def stats(self, namespace_id: str, bucket_id: str, query: dict[str, Any]) -> ObjectStats:
        return ObjectStats()

    async def counts(self, namespace_ids: list[str]) -> dict[str, int]:
        return {}

    async def bucket_refs(self, namespace_id: str, bucket_id: str) -> list[str]:
        return [holder_ref(r.object_id, b.blob_id) for r in self.records.values() for b in r.blobs]

    async def delete_bucket(self, namespace_id: str, bucket_id: str) -> int:
        count = len(self.records)
        self.records.clear()
        return count

    # WriteStore
    def _live(self, object_id: str, write_id: str) -> ObjectRecord | None:
        record = self.records.get(object_id)
        if record is None or record.write is None or record.write.write_id != write_id:
            return None
        return None if write_id in self.reclaimed else record

    def _set_write(self, record: ObjectRecord, **changes: Any) -> None:
        assert record.write is not None
        write = dataclasses.replace(record.write, **changes)
        self.records[record.object_id] = dataclasses.replace(record, write=write)

    async def by_write(self, namespace_id: str, write_id: str) -> ObjectRecord | None:
        return next(
            (r for r in self.records.values() if r.write and r.write.write_id == write_id), None
        )

    async def by_committed_write(self, namespace_id: str, write_id: str) -> ObjectRecord | None:
        return next((r for r in self.records.values() if r.write_id == write_id), None)

    async def hold_stream(
        self, object_id: str, write_id: str, token: str, *, until: datetime, now: datetime
    ) -> bool:
        record = self.records.get(object_id)
        write = record.write if record else None
        if record is None or write is None or write.write_id != write_id:
            return False
        held = write.stream_token not in {None, token} and (
            write.streaming_until is not None and write.streaming_until > now
        )
        if held:
            return False
        self._set_write(record, stream_token=token, streaming_until=until)
        return True

    async def release_stream(self, object_id: str, write_id: str, token: str) -> None:
        record = self.records.get(object_id)
        if record and record.write and record.write.stream_token == token:
            self._set_write(record, stream_token=None, streaming_until=None)

    async def start_write(self, record: ObjectRecord, write: WriteLease) -> bool:
        current = self.records[record.object_id]
        if current.write is not None:
            return False
        self.records[record.object_id] = dataclasses.replace(current, write=write)
        return True

    async def add_pending(
        self, object_id: str, write_id: str, pending: PendingContent, ref: str
    ) -> None:
        record = self._live(object_id, write_id)
        if record and record.write:
            self._set_write(
                record, pending=[*record.write.pending, pending], refs=[*record.write.refs, ref]
            )

    async def set_multipart(
        self, object_id: str, write_id: str, index: int, multipart_id: str
    ) -> None:
        record = self._live(object_id, write_id)
        if record and record.write:
            pending = list(record.write.pending)
            pending[index] = dataclasses.replace(pending[index], multipart_id=multipart_id)
            self._set_write(record, pending=pending)

    async def save_parts(
        self, object_id: str, write_id: str, index: int, parts: list[Part]
    ) -> None:
        record = self._live(object_id, write_id)
        if record and record.write:
            pending = list(record.write.pending)
            pending[index] = dataclasses.replace(pending[index], parts=list(parts))
            self._set_write(record, pending=pending)

    async def renew(self, object_id: str, write_id: str, until: datetime) -> bool:
        record = self._live(object_id, write_id)
        if record is None:
            return False
        self._set_write(record, lease_until=until)
        return True

    async def commit(self, record: ObjectRecord, write_id: str) -> bool:
        if self._live(record.object_id, write_id) is None:
            return False
        self._journal.append(("commit", record.object_id, record.status))
        self.records[record.object_id] = record
        return True

    async def fail(self, object_id: str, write_id: str, error: str, *, now: datetime) -> bool:
        record = self.records.get(object_id)
        if record is None or record.write is None or record.write.write_id != write_id:
            return False
        if record.status != Status.PROCESSING:
            return False
        self._journal.append(("fail", object_id, error))
        self.records[object_id] = dataclasses.replace(record, status=Status.FAILED, error=error)
        return True

    async def expire(self, object_id: str, write_id: str, *, now: datetime) -> None:
        record = self.records.get(object_id)
        if record and record.write and record.write.write_id == write_id:
            self._set_write(record, lease_until=now)

    async def end_write(self, object_id: str, write_id: str) -> None:
        record = self.records.get(object_id)
        if record and record.write and record.write.write_id == write_id:
            self.records[object_id] = dataclasses.replace(record, write=None)

    async def expired(self, now: datetime, limit: int = 50) -> list[tuple[str, str]]:
        return [
            (r.object_id, r.write.write_id)
            for r in self.records.values()
            if r.write is not None and r.write.lease_until < now
        ]

    async def reclaim(
        self, object_id: str, write_id: str, *, now: datetime, until: datetime
    ) -> ObjectRecord | None:
        record = self.records.get(object_id)
        if record is None or record.write is None or record.write.write_id != write_id:
            return None
        if record.write.lease_until >= now:
            return None
        self.reclaimed.add(write_id)
        self._set_write(record, lease_until=until)
        return self.records[object_id]

    async def unreleased(self, before: datetime, limit: int = 50) -> list[ObjectRecord]:
        return [r for r in self.records.values() if r.releases and r.updated_at < before]

    async def clear_releases(self, object_id: str, refs: list[str]) -> None:
        record = self.records[object_id]
        kept = [ref for ref in record.releases if ref not in refs]
        self.records[object_id] = dataclasses.replace(record, releases=kept)

    # ClaimStore
    async def claim(
        self, claim_id: str, *, namespace_id: str, bucket_id: str, object_id: str
    ) -> str | None:
        holder = self.claims.setdefault(claim_id, object_id)
        return None if holder == object_id else holder

    async def find_claim(self, claim_id: str) -> str | None:
        return self.claims.get(claim_id)

    async def release_claims(self, namespace_id: str, object_id: str) -> None:
        self.claims = {k: v for k, v in self.claims.items() if v != object_id}

    async def delete_bucket_claims(self, namespace_id: str, bucket_id: str) -> None:
        self.claims.clear()


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
