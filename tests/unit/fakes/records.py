"""In-memory fakes of the record ports: organizations, keys, namespaces, buckets, uploads,
tasks, purge and indexes, over one FakeDatabase (so that a purge sees what the others wrote).

Each keeps the adapter's rules that a use case relies on: unique names, the conditional state
changes (an upload changes only from the statuses named; a task is claimed once), scoping by
organization or namespace, and lists that really filter, sort and page (fakes/query.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import (
    ApiKey,
    Bucket,
    BucketChanges,
    Namespace,
    NamespaceChanges,
    Organization,
)
from bucketd.server.domain.query import Filter
from bucketd.server.domain.status import Status
from bucketd.server.domain.tasks import RUNNABLE, TaskRecord
from bucketd.server.domain.uploads import UploadChange, UploadRecord, changed_fields
from bucketd.server.domain.writes import WriteLease
from bucketd.server.errors import AlreadyExists
from tests.unit.fakes.query import matches, page_of

if TYPE_CHECKING:
    from tests.unit.fakes.objects import FakeObjects
    from tests.unit.fakes.storage import FakeRegistry


@dataclass
class FakeDatabase:
    """The records of every fake store, by id."""

    organizations: dict[str, Organization] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    uploads: dict[str, UploadRecord] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    # claim id -> (namespace_id, bucket_id, object_id); kept by FakeObjects
    claims: dict[str, tuple[str, str, str]] = field(default_factory=dict)


class FakeOrganizations:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def get_or_create(self, name: str, *, now: datetime) -> Organization:
        found = await self.find_by_name(name)
        if found is not None:
            return found
        organization = Organization(organization_id=f"org_{name}", name=name, created_at=now)
        self._db.organizations[organization.organization_id] = organization
        return organization

    async def find_by_name(self, name: str) -> Organization | None:
        return next((o for o in self._db.organizations.values() if o.name == name), None)

    async def names(self, organization_ids: list[str]) -> dict[str, str]:
        return {i: o.name for i, o in self._db.organizations.items() if i in set(organization_ids)}


class FakeApiKeys:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.reads = 0

    async def insert(self, key: ApiKey) -> None:
        if any(k.digest == key.digest for k in self._db.keys.values()):
            raise AlreadyExists("This API key already exists")
        self._db.keys[key.key_id] = key

    async def find_by_digest(self, digest: str) -> ApiKey | None:
        self.reads += 1
        return next((k for k in self._db.keys.values() if k.digest == digest), None)

    async def find_by_id_or_prefix(self, value: str) -> list[ApiKey]:
        return [k for k in self._db.keys.values() if value in {k.key_id, k.prefix}]

    async def any_active(self) -> bool:
        return any(k.revoked_at is None for k in self._db.keys.values())

    async def list_keys(self, organization_id: str | None) -> list[ApiKey]:
        found = [k for k in self._db.keys.values() if organization_id in {None, k.organization_id}]
        return sorted(found, key=lambda k: k.created_at)

    async def revoke(self, key_id: str, *, now: datetime) -> None:
        key = self._db.keys.get(key_id)
        if key is not None and key.revoked_at is None:
            self._db.keys[key_id] = dataclasses.replace(key, revoked_at=now)


class FakeNamespaces:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def _taken(self, organization_id: str, name: str, but: str | None = None) -> bool:
        return any(
            n.namespace_name == name and n.namespace_id != but
            for n in self._db.namespaces.values()
            if n.organization_id == organization_id
        )

    async def insert(self, namespace: Namespace) -> None:
        if self._taken(namespace.organization_id, namespace.namespace_name):
            raise AlreadyExists(f"Namespace '{namespace.namespace_name}' already exists")
        self._db.namespaces[namespace.namespace_id] = namespace

    async def find(self, organization_id: str, identifier: str) -> Namespace | None:
        mine = [n for n in self._db.namespaces.values() if n.organization_id == organization_id]
        by_id = [n for n in mine if n.namespace_id == identifier and identifier.startswith("ns_")]
        by_name = [n for n in mine if n.namespace_name == identifier]
        return next(iter(by_id or by_name), None)

    async def page(
        self, organization_id: str, *, query: Filter, sort: SortRequest, page: PageRequest
    ) -> tuple[list[Namespace], int]:
        mine = [n for n in self._db.namespaces.values() if n.organization_id == organization_id]
        return page_of(mine, query, sort, page, "namespace_id")

    async def update(
        self,
        organization_id: str,
        namespace_id: str,
        changes: NamespaceChanges,
        *,
        now: datetime,
    ) -> Namespace | None:
        current = self._db.namespaces.get(namespace_id)
        if current is None or current.organization_id != organization_id:
            return None
        name = changes.namespace_name
        if name is not None and self._taken(organization_id, name, but=namespace_id):
            raise AlreadyExists(f"Namespace '{name}' already exists")
        updated = dataclasses.replace(
            current,
            namespace_name=current.namespace_name if name is None else name,
            description=(
                current.description if changes.description is None else changes.description
            ),
            updated_at=now,
        )
        self._db.namespaces[namespace_id] = updated
        return updated

    async def delete(self, organization_id: str, namespace_id: str) -> bool:
        current = self._db.namespaces.get(namespace_id)
        if current is None or current.organization_id != organization_id:
            return False
        del self._db.namespaces[namespace_id]
        return True


class FakeBuckets:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def _in(self, namespace_id: str) -> list[Bucket]:
        return [b for b in self._db.buckets.values() if b.namespace_id == namespace_id]

    def _check_name(self, namespace_id: str, name: str, but: str | None = None) -> None:
        if any(b.bucket_name == name and b.bucket_id != but for b in self._in(namespace_id)):
            raise AlreadyExists(f"Bucket '{name}' already exists in this namespace")

    async def insert(self, bucket: Bucket) -> None:
        self._check_name(bucket.namespace_id, bucket.bucket_name)
        self._db.buckets[bucket.bucket_id] = bucket

    async def find(self, namespace_id: str, identifier: str) -> Bucket | None:
        mine = self._in(namespace_id)
        by_id = [b for b in mine if b.bucket_id == identifier and identifier.startswith("bkt_")]
        return next(iter(by_id or [b for b in mine if b.bucket_name == identifier]), None)

    async def page(
        self, namespace_id: str, *, query: Filter, sort: SortRequest, page: PageRequest
    ) -> tuple[list[Bucket], int]:
        return page_of(self._in(namespace_id), query, sort, page, "bucket_id")

    async def ids(self, namespace_id: str, query: Filter) -> list[str]:
        return [b.bucket_id for b in self._in(namespace_id) if matches(query, b)]

    async def counts(self, namespace_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for bucket in self._db.buckets.values():
            if bucket.namespace_id in namespace_ids:
                counts[bucket.namespace_id] = counts.get(bucket.namespace_id, 0) + 1
        return counts

    async def update(
        self, namespace_id: str, bucket_id: str, changes: BucketChanges, *, now: datetime
    ) -> Bucket | None:
        current = self._db.buckets.get(bucket_id)
        if current is None or current.namespace_id != namespace_id:
            return None
        fields = {
            f.name: getattr(changes, f.name)
            for f in dataclasses.fields(changes)
            if getattr(changes, f.name) is not None
        }
        if "bucket_name" in fields:
            self._check_name(namespace_id, fields["bucket_name"], but=bucket_id)
        updated = dataclasses.replace(current, **fields, updated_at=now)
        self._db.buckets[bucket_id] = updated
        return updated

    async def delete(self, namespace_id: str, bucket_id: str) -> bool:
        current = self._db.buckets.get(bucket_id)
        if current is None or current.namespace_id != namespace_id:
            return False
        del self._db.buckets[bucket_id]
        return True


class FakeUploads:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def _in(self, namespace_id: str, bucket_id: str) -> list[UploadRecord]:
        return [
            u
            for u in self._db.uploads.values()
            if u.namespace_id == namespace_id and u.bucket_id == bucket_id
        ]

    async def insert(self, record: UploadRecord) -> None:
        self._db.uploads[record.upload_id] = record

    async def get(self, namespace_id: str, bucket_id: str, upload_id: str) -> UploadRecord | None:
        return next(
            (u for u in self._in(namespace_id, bucket_id) if u.upload_id == upload_id), None
        )

    async def transition(
        self,
        upload_id: str,
        *,
        statuses: tuple[Status, ...],
        change: UploadChange,
        expired_before: datetime | None = None,
        lease_ran_out_before: datetime | None = None,
    ) -> UploadRecord | None:
        current = self._db.uploads.get(upload_id)
        if current is None or current.status not in statuses:
            return None
        if expired_before is not None and not current.expires_at < expired_before:
            return None
        if lease_ran_out_before is not None and not (
            current.lease_until is not None and current.lease_until < lease_ran_out_before
        ):
            return None
        updated = dataclasses.replace(current, **changed_fields(change))
        self._db.uploads[upload_id] = updated
        return updated

    async def completed_with_sha256(
        self, namespace_id: str, bucket_id: str, sha256: str
    ) -> UploadRecord | None:
        return next(
            (
                u
                for u in self._in(namespace_id, bucket_id)
                if u.file_hash == sha256 and u.status == Status.COMPLETED
            ),
            None,
        )

    async def page(
        self,
        namespace_id: str,
        bucket_id: str,
        *,
        query: Filter,
        sort: SortRequest,
        page: PageRequest,
    ) -> tuple[list[UploadRecord], int]:
        return page_of(self._in(namespace_id, bucket_id), query, sort, page, "upload_id")

    async def stats(self, namespace_id: str, bucket_id: str, query: Filter) -> dict[str, Any]:
        found = [u for u in self._in(namespace_id, bucket_id) if matches(query, u)]
        by_status: dict[str, int] = {}
        for upload in found:
            by_status[upload.status] = by_status.get(upload.status, 0) + 1
        size = sum(u.file_size_bytes or 0 for u in found)
        return {
            "total_uploads": len(found),
            "total_size_bytes": size,
            "uploads_by_status": by_status,
            "avg_file_size_bytes": size / len(found) if found else 0.0,
            "unique_buckets": 1 if found else 0,
        }

    async def due(self, *, now: datetime, limit: int = 50) -> tuple[list[str], list[str]]:
        uploads = list(self._db.uploads.values())
        expired = [
            u.upload_id for u in uploads if u.status == Status.PENDING and u.expires_at < now
        ]
        stalled = [
            u.upload_id
            for u in uploads
            if u.status == Status.PROCESSING and u.lease_until is not None and u.lease_until < now
        ]
        return expired[:limit], stalled[:limit]

    async def by_task(self, organization_id: str, task_id: str) -> UploadRecord | None:
        return next(
            (
                u
                for u in self._db.uploads.values()
                if u.organization_id == organization_id and u.task_id == task_id
            ),
            None,
        )

    async def by_id(self, upload_id: str) -> UploadRecord | None:
        return self._db.uploads.get(upload_id)


class FakeTasks:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def insert(self, record: TaskRecord) -> None:
        self._db.tasks[record.task_id] = record

    async def get(self, organization_id: str, task_id: str) -> TaskRecord | None:
        task = self._db.tasks.get(task_id)
        return task if task is not None and task.organization_id == organization_id else None

    async def page(
        self, organization_id: str, *, query: Filter, sort: SortRequest, page: PageRequest
    ) -> tuple[list[TaskRecord], int]:
        mine = [t for t in self._db.tasks.values() if t.organization_id == organization_id]
        return page_of(mine, query, sort, page, "task_id")

    def _set(self, task: TaskRecord, **changes: Any) -> TaskRecord:
        updated = dataclasses.replace(task, **changes)
        self._db.tasks[task.task_id] = updated
        return updated

    async def claim(
        self, task_id: str, *, now: datetime, until: datetime, fresh: bool
    ) -> TaskRecord | None:
        task = self._db.tasks.get(task_id)
        if task is None:
            return None
        ran_out = task.lease_until is not None and task.lease_until < now
        takeable = task.status == Status.PENDING if fresh else task.status in RUNNABLE and ran_out
        if not takeable:
            return None
        return self._set(
            task,
            status=Status.IN_PROGRESS,
            lease_until=until,
            updated_at=now,
            attempts=task.attempts + 1,
        )

    async def renew(self, task_id: str, *, until: datetime, progress: dict[str, Any]) -> bool:
        task = self._db.tasks.get(task_id)
        if task is None or task.status != Status.IN_PROGRESS:
            return False
        self._set(task, lease_until=until, additional_data=dict(progress))
        return True

    async def finish(
        self,
        task_id: str,
        *,
        status: Status,
        outputs: dict[str, Any],
        progress: dict[str, Any],
        error: str | None,
        now: datetime,
    ) -> TaskRecord | None:
        task = self._db.tasks.get(task_id)
        if task is None or task.status != Status.IN_PROGRESS:
            return None
        return self._set(
            task,
            status=status,
            outputs=outputs,
            additional_data=dict(progress),
            error=error,
            lease_until=None,
            updated_at=now,
        )

    async def cancel(
        self, organization_id: str, task_id: str, *, now: datetime
    ) -> TaskRecord | None:
        task = await self.get(organization_id, task_id)
        if task is None or task.status not in RUNNABLE:
            return None
        return self._set(
            task,
            status=Status.CANCELED,
            error="killed by the caller",
            lease_until=None,
            updated_at=now,
        )

    async def due(self, *, now: datetime, limit: int = 20) -> list[str]:
        return [
            t.task_id
            for t in self._db.tasks.values()
            if t.status in RUNNABLE and t.lease_until is not None and t.lease_until < now
        ][:limit]


class FakePurge:
    """Bulk removal over the database and the objects' fake (which keeps objects and claims)."""

    def __init__(self, db: FakeDatabase, objects: FakeObjects, registry: FakeRegistry) -> None:
        self._db = db
        self._objects = objects
        self._registry = registry

    async def bucket_ids(self, namespace_id: str) -> list[str]:
        return [b.bucket_id for b in self._db.buckets.values() if b.namespace_id == namespace_id]

    async def object_batch(
        self, namespace_id: str, bucket_id: str | None
    ) -> list[tuple[str, list[str], WriteLease | None]]:
        return self._objects.batch_for_purge(namespace_id, bucket_id)

    async def delete_objects(self, namespace_id: str, object_ids: list[str]) -> int:
        return self._objects.purge(namespace_id, object_ids)

    async def upload_batch(
        self, namespace_id: str, bucket_id: str | None
    ) -> list[tuple[str, str, str]]:
        return [
            (u.upload_id, u.s3_key, u.status)
            for u in self._db.uploads.values()
            if u.namespace_id == namespace_id and bucket_id in {None, u.bucket_id}
        ]

    async def delete_uploads(self, namespace_id: str, upload_ids: list[str]) -> int:
        gone = [
            i
            for i in upload_ids
            if i in self._db.uploads and self._db.uploads[i].namespace_id == namespace_id
        ]
        for upload_id in gone:
            del self._db.uploads[upload_id]
        return len(gone)

    async def delete_claims(self, namespace_id: str, bucket_id: str | None) -> None:
        self._db.claims = {
            claim: holder
            for claim, holder in self._db.claims.items()
            if not (holder[0] == namespace_id and bucket_id in {None, holder[1]})
        }

    async def delete_bucket(self, namespace_id: str, bucket_id: str) -> None:
        bucket = self._db.buckets.get(bucket_id)
        if bucket is not None and bucket.namespace_id == namespace_id:
            del self._db.buckets[bucket_id]

    async def delete_contents(self, namespace_id: str) -> int:
        return self._registry.forget_namespace(namespace_id)


class FakeIndexes:
    """IndexStore: the index names a real store would report."""

    def __init__(self) -> None:
        self.ensured = 0

    async def ensure(self) -> list[str]:
        self.ensured += 1
        return ["buckets._id_", "objects._id_"]
