"""In-memory fake of the object ports (ObjectStore, WriteStore, ClaimStore) over one dict of
records, with the adapters' semantics: every read scoped to its namespace and bucket,
soft-deleted objects hidden, lists and stats and aggregations that really filter (fakes/query.py),
and the write lease's conditional updates."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from bucketd.server.domain.aggregation import AggregationPlan
from bucketd.server.domain.contents import holder_ref
from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import ObjectRecord, SoftDeleteMarks
from bucketd.server.domain.query import Filter
from bucketd.server.domain.status import Status
from bucketd.server.domain.stored import ObjectStats, Usage
from bucketd.server.domain.writes import Hold, Part, PendingContent, Tail, WriteKind, WriteLease
from tests.unit.fakes.aggregate import aggregate
from tests.unit.fakes.query import matches, page_of
from tests.unit.fakes.records import FakeDatabase
from tests.unit.fakes.storage import Journal

PURGE_BATCH = 500


class FakeObjects:
    """ObjectStore, WriteStore and ClaimStore over one dict of records."""

    def __init__(self, journal: Journal, db: FakeDatabase | None = None) -> None:
        self.records: dict[str, ObjectRecord] = {}
        self.hidden: dict[str, SoftDeleteMarks] = {}  # soft-deleted: object_id -> marks
        self.reclaimed: set[str] = set()
        self.db = db or FakeDatabase()
        self._journal = journal

    def _live(self, namespace_id: str, bucket_id: str) -> list[ObjectRecord]:
        return [
            r
            for r in self.records.values()
            if r.namespace_id == namespace_id
            and r.bucket_id == bucket_id
            and r.object_id not in self.hidden
        ]

    def _counted(self) -> list[ObjectRecord]:
        """What usage counts: live objects, stored, neither FAILED nor PROCESSING."""
        return [
            r
            for r in self.records.values()
            if r.object_id not in self.hidden and r.status not in {Status.FAILED, Status.PROCESSING}
        ]

    # ObjectStore
    async def insert(self, record: ObjectRecord) -> None:
        self._journal.append(("insert", record.object_id, record.status))
        self.records[record.object_id] = record

    async def get(self, namespace_id: str, bucket_id: str, object_id: str) -> ObjectRecord | None:
        return next(
            (r for r in self._live(namespace_id, bucket_id) if r.object_id == object_id), None
        )

    async def update_fields(self, record: ObjectRecord) -> bool:
        current = self.records.get(record.object_id)
        if current is None or current.write is not None:
            return False
        self.records[record.object_id] = dataclasses.replace(
            current,
            key_prefix=record.key_prefix,
            metadata=record.metadata,
            updated_at=record.updated_at,
        )
        return True

    async def delete(self, namespace_id: str, bucket_id: str, object_id: str) -> bool:
        record = self.records.get(object_id)
        if record is None or (record.namespace_id, record.bucket_id) != (namespace_id, bucket_id):
            return False
        del self.records[object_id]
        return True

    async def page(
        self,
        namespace_id: str,
        bucket_id: str,
        *,
        query: Filter,
        sort: SortRequest,
        page: PageRequest,
        count: bool,
    ) -> tuple[list[ObjectRecord], int | None]:
        found, total = page_of(self._live(namespace_id, bucket_id), query, sort, page, "object_id")
        return found, total if count else None

    async def holder_of_sha256(self, namespace_id: str, bucket_id: str, sha256: str) -> str | None:
        for record in self._live(namespace_id, bucket_id):
            if record.status != Status.FAILED and any(b.sha256 == sha256 for b in record.blobs):
                return record.object_id
        return None

    async def usage(self, namespace_id: str, bucket_ids: list[str]) -> dict[str, Usage]:
        usage: dict[str, Usage] = {}
        for record in self._counted():
            if record.namespace_id != namespace_id or record.bucket_id not in bucket_ids:
                continue
            seen = usage.get(record.bucket_id, Usage())
            last = max(filter(None, [seen.last_upload_at, record.created_at]))
            usage[record.bucket_id] = Usage(
                seen.object_count + 1, seen.total_size_bytes + record.size_bytes, last
            )
        return usage

    async def aggregate(
        self, namespace_id: str, bucket_id: str, query: Filter, plan: AggregationPlan
    ) -> tuple[list[dict[str, Any]], int]:
        found = [r for r in self._live(namespace_id, bucket_id) if matches(query, r)]
        return aggregate(found, plan)

    async def soft_delete(
        self, namespace_id: str, bucket_id: str, object_ids: list[str], *, marks: SoftDeleteMarks
    ) -> list[str]:
        hidden = [
            r.object_id for r in self._live(namespace_id, bucket_id) if r.object_id in object_ids
        ]
        self.hidden.update({object_id: marks for object_id in hidden})
        return hidden

    async def stats(self, namespace_id: str, bucket_id: str, query: Filter) -> ObjectStats:
        found = [r for r in self._live(namespace_id, bucket_id) if matches(query, r)]
        by_status: dict[str, int] = {}
        for record in found:
            by_status[record.status] = by_status.get(record.status, 0) + 1
        return ObjectStats(
            total_objects=len(found),
            total_blobs=sum(len(r.blobs) for r in found),
            objects_by_status=by_status,
        )

    async def counts(self, namespace_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self._counted():
            if record.namespace_id in namespace_ids:
                counts[record.namespace_id] = counts.get(record.namespace_id, 0) + 1
        return counts

    def _of_bucket(self, namespace_id: str, bucket_id: str | None) -> list[ObjectRecord]:
        return [
            r
            for r in self.records.values()
            if r.namespace_id == namespace_id and bucket_id in {None, r.bucket_id}
        ]

    # What FakePurge needs (the PurgeStore's object half)
    def batch_for_purge(
        self, namespace_id: str, bucket_id: str | None
    ) -> list[tuple[str, list[str], WriteLease | None]]:
        batch = []
        for record in self._of_bucket(namespace_id, bucket_id)[:PURGE_BATCH]:
            refs = [holder_ref(record.object_id, b.blob_id) for b in record.blobs]
            refs += (record.write.refs if record.write else []) + record.releases
            batch.append((record.object_id, refs, record.write))
        return batch

    def purge(self, namespace_id: str, object_ids: list[str]) -> int:
        gone = [
            i
            for i in object_ids
            if i in self.records and self.records[i].namespace_id == namespace_id
        ]
        for object_id in gone:
            del self.records[object_id]
        self.db.claims = {k: v for k, v in self.db.claims.items() if v[2] not in gone}
        return len(gone)

    # WriteStore
    def _writing(self, object_id: str, write_id: str) -> ObjectRecord | None:
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
            (
                r
                for r in self.records.values()
                if r.namespace_id == namespace_id and r.write and r.write.write_id == write_id
            ),
            None,
        )

    async def by_session(self, session_id: str) -> ObjectRecord | None:
        return next(
            (
                r
                for r in self.records.values()
                if r.write and r.write.write_id == session_id and r.write.kind is WriteKind.SESSION
            ),
            None,
        )

    async def by_committed_write(self, namespace_id: str, write_id: str) -> ObjectRecord | None:
        return next(
            (
                r
                for r in self.records.values()
                if r.namespace_id == namespace_id
                and r.write_id == write_id
                and r.object_id not in self.hidden
            ),
            None,
        )

    async def hold_stream(
        self, object_id: str, write_id: str, token: str, *, until: datetime, now: datetime
    ) -> Hold:
        record = self._writing(object_id, write_id)
        write = record.write if record else None
        if record is None or write is None:
            return Hold.GONE
        wanted = write.wanted_by not in {None, token} and (
            write.wanted_until is not None and write.wanted_until > now
        )
        if write.stream_token == token:
            self._set_write(record, streaming_until=until)
            return Hold.WANTED if wanted else Hold.TAKEN
        held = write.streaming_until is not None and write.streaming_until > now
        if held or wanted:
            return Hold.BUSY
        self._set_write(record, stream_token=token, streaming_until=until, wanted_by=None)
        return Hold.TAKEN

    async def want_stream(
        self, object_id: str, write_id: str, token: str, *, until: datetime
    ) -> None:
        record = self._writing(object_id, write_id)
        if record and record.write:
            self._set_write(record, wanted_by=token, wanted_until=until)

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
        record = self._writing(object_id, write_id)
        if record and record.write:
            self._set_write(
                record, pending=[*record.write.pending, pending], refs=[*record.write.refs, ref]
            )

    async def set_multipart(
        self, object_id: str, write_id: str, index: int, multipart_id: str
    ) -> None:
        record = self._writing(object_id, write_id)
        if record and record.write:
            pending = list(record.write.pending)
            pending[index] = dataclasses.replace(pending[index], multipart_id=multipart_id)
            self._set_write(record, pending=pending)

    async def save_parts(
        self, object_id: str, write_id: str, index: int, parts: list[Part], head: bytes
    ) -> None:
        self._save_pending(object_id, write_id, index, parts=list(parts), head=head)

    async def save_tail(
        self, object_id: str, write_id: str, index: int, tail: Tail, head: bytes
    ) -> None:
        self._save_pending(object_id, write_id, index, tail=tail, head=head)

    def _save_pending(self, object_id: str, write_id: str, index: int, **changes: Any) -> None:
        record = self._writing(object_id, write_id)
        if record and record.write:
            pending = list(record.write.pending)
            pending[index] = dataclasses.replace(pending[index], **changes)
            self._set_write(record, pending=pending)

    async def renew(self, object_id: str, write_id: str, until: datetime) -> bool:
        record = self._writing(object_id, write_id)
        if record is None:
            return False
        self._set_write(record, lease_until=until)
        return True

    async def commit(self, record: ObjectRecord, write_id: str) -> bool:
        if self._writing(record.object_id, write_id) is None:
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

    async def named_multiparts(self, multipart_ids: list[str]) -> set[str]:
        named = {
            pending.multipart_id
            for record in self.records.values()
            if record.write is not None
            for pending in record.write.pending
        }
        return set(multipart_ids) & named

    # ClaimStore
    async def claim(
        self, claim_id: str, *, namespace_id: str, bucket_id: str, object_id: str
    ) -> str | None:
        holder = self.db.claims.setdefault(claim_id, (namespace_id, bucket_id, object_id))[2]
        return None if holder == object_id else holder

    async def find_claim(self, claim_id: str) -> str | None:
        holder = self.db.claims.get(claim_id)
        return holder[2] if holder else None

    async def release_claims(
        self, namespace_id: str, object_id: str, claim_ids: list[str] | None = None
    ) -> None:
        self.db.claims = {
            k: v
            for k, v in self.db.claims.items()
            if (v[0], v[2]) != (namespace_id, object_id)
            or (claim_ids is not None and k not in claim_ids)
        }
