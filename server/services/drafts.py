"""An object while it is written: the record first, the bytes second, the final status last.

`Drafts.begin` settles the claims (idempotency, unique key), then writes the record — PROCESSING
for a new object — with the lease of this write inside it, naming the holder references the
write may take and the keys where its new bytes will go; then it looks the bucket up again (a
deletion may have purged it since the create first did). Only then does a byte move. A live draft
renews its lease; `commit` writes the final record only if the lease is still its own. Any
failure (or a janitor, once the lease has run out) aborts the pending multipart uploads, deletes
bytes that were never registered, releases the references, and marks a new object FAILED.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from bucketd import metrics
from bucketd.server.domain.blob_data import ingest_path
from bucketd.server.domain.contents import holder_ref
from bucketd.server.domain.held import (
    BlobTarget,
    Reference,
    Skipped,
    Stored,
    held_blob,
    referenced_blob,
)
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Blob, Bucket, Namespace, ObjectRecord, SkippedBlob
from bucketd.server.domain.object_plan import ObjectPlan, PlannedBlob
from bucketd.server.domain.objects import STORED_STATUS, content_hash, new_record
from bucketd.server.domain.streams import SessionHeader
from bucketd.server.domain.writes import PendingContent, WriteKind, WriteLease, new_write_id
from bucketd.server.errors import (
    BucketdError,
    FailedPrecondition,
    StorageUnavailable,
)
from bucketd.server.services.background import DEFAULT_CLEANUP_SECONDS, clean_up
from bucketd.server.services.buckets import moved_since
from bucketd.server.services.object_claims import ObjectClaims, claim_ids
from bucketd.server.services.ports import (
    BlobStorage,
    BucketStore,
    ContentRegistry,
    ObjectStore,
    WriteStore,
)

log = logging.getLogger("bucketd.writes")
Clock = Callable[[], datetime]

LEASE_LOST = (
    "the write's lease ran out before it finished (BUCKETD_WRITE_LEASE_SECONDS): "
    "nothing of it was kept; retry"
)


async def drop_pending(
    storage: BlobStorage, registry: ContentRegistry, pending: list[PendingContent]
) -> int:
    """Abort the multipart uploads of never-registered contents and delete their bytes (never
    a presigned upload's file). Returns how many multipart uploads were aborted."""
    aborted = 0
    for item in pending:
        if await registry.find(item.content_id) is not None:
            continue  # registered: it is somebody's now, the release decides its fate
        if item.multipart_id is not None:
            await storage.abort_multipart(item.storage_key, item.multipart_id)
            aborted += 1
        if item.owned:
            aborted += await storage.abort_all(item.storage_key)
            await storage.delete(item.storage_key)
            if item.multipart_id is not None:  # streamed: a session may have kept a tail
                await storage.delete(item.tail_key)
    return aborted


@dataclasses.dataclass(frozen=True)
class _Stores:
    """What a draft uses while it lives: its lease's store, the registry, the bytes."""

    writes: WriteStore
    registry: ContentRegistry
    storage: BlobStorage
    lease: timedelta
    clock: Clock
    cleanup_seconds: float = DEFAULT_CLEANUP_SECONDS  # BUCKETD_CLEANUP_SECONDS


class Drafts:
    def __init__(
        self,
        *,
        objects: ObjectStore,
        buckets: BucketStore,
        writes: WriteStore,
        claims: ObjectClaims,
        registry: ContentRegistry,
        storage: BlobStorage,
        lease: timedelta,
        clock: Clock,
        cleanup_seconds: float = DEFAULT_CLEANUP_SECONDS,
    ) -> None:
        self._objects = objects
        self._buckets = buckets
        self._writes = writes
        self._claims = claims
        self._lease = lease
        self._clock = clock
        self._stores = _Stores(writes, registry, storage, lease, clock, cleanup_seconds)

    async def begin(
        self,
        namespace: Namespace,
        bucket: Bucket,
        plan: ObjectPlan,
        *,
        kind: WriteKind,
        pending: list[PendingContent],
        lease: timedelta | None = None,
        header: SessionHeader | None = None,
        target: ObjectRecord | None = None,
    ) -> Draft | ObjectRecord:
        """A draft of the planned object — a new one, the holder of its unique key, or `target`
        (PUT) — or the object an idempotent retry asked for again."""
        object_id = new_id("obj_")
        retried, existing = (
            (None, target) if target else await self._claimed(namespace, bucket, plan, object_id)
        )
        if retried is not None:
            return retried
        write = WriteLease(
            write_id=new_write_id(kind),
            kind=kind,
            lease_until=self._clock() + (lease or self._lease),
            new_object=existing is None,
            refs=plan.holder_refs(existing.object_id if existing else object_id),
            pending=pending,
            header=header,
        )
        if existing is None:
            claims = claim_ids(bucket, plan)
            record = new_record(
                object_id, namespace, bucket, plan, write, now=self._clock(), claims=claims
            )
            await self._insert(record, bucket, namespace)
        else:
            record = await self._take(existing, write, bucket, namespace)
        return Draft(self._stores, plan, record)

    async def _claimed(
        self, namespace: Namespace, bucket: Bucket, plan: ObjectPlan, object_id: str
    ) -> tuple[ObjectRecord | None, ObjectRecord | None]:
        """(the object an idempotent retry asked for again, the holder of the plan's unique
        key): the claims settled for `object_id`."""
        if plan.idempotency_key:
            holder = await self._claims.idempotency_holder(
                namespace, bucket, plan.idempotency_key, object_id
            )
            if holder is not None:
                return await self._claims.wait_for(namespace, bucket, holder), None
        return None, await self._claims.unique_key_holder(
            namespace, bucket, plan, plan.policy, object_id
        )

    async def _insert(self, record: ObjectRecord, planned: Bucket, namespace: Namespace) -> None:
        """The new record, written; then its bucket read again — it must still be the one the
        object was planned against (a deletion may have purged it since, an update changed it,
        a cached copy gone stale): if not, the record and its claims go before any byte."""
        await self._objects.insert(record)
        moved = await self._moved(planned, namespace)
        if moved is not None:
            await self._withdraw(record)
            raise moved

    async def _take(
        self, existing: ObjectRecord, write: WriteLease, planned: Bucket, namespace: Namespace
    ) -> ObjectRecord:
        """An existing object, taken over by this write (unless another one holds it); then
        its bucket read again, as for a new record: the write was planned against a copy that
        may be stale (an update's policy or schema changed, a deletion begun)."""
        if not await self._writes.start_write(existing, write):
            raise FailedPrecondition(
                f"Object {existing.object_id} is being written by another request; retry"
            )
        moved = await self._moved(planned, namespace)
        if moved is not None:
            await self._writes.end_write(existing.object_id, write.write_id)
            raise moved
        return dataclasses.replace(existing, write=write)

    async def _moved(self, planned: Bucket, namespace: Namespace) -> BucketdError | None:
        current = await self._buckets.find(planned.namespace_id, planned.bucket_id)
        return moved_since(current, planned, namespace)

    async def withdrawn_with_bucket(self, record: ObjectRecord) -> bool:
        """Whether the bucket of a new object's record is gone; if so the record and its claims
        go too. Asked where the write holds nothing else: before its first byte, or once the
        janitor has released what it held.

        A bucket's deletion removes its record before its task's passes over the objects: a
        new record written after this finds the bucket is one those passes see, and one that
        does not find it may have come after the last pass. `begin` asks once the record is
        written; the janitor asks of a write whose writer died before that."""
        found = await self._buckets.find(record.namespace_id, record.bucket_id)
        if found is not None and found.bucket_id == record.bucket_id:
            return False
        await self._withdraw(record)
        return True

    async def _withdraw(self, record: ObjectRecord) -> None:
        await self._objects.delete(record.namespace_id, record.bucket_id, record.object_id)
        await self._claims.release(record)

    def resume(self, plan: ObjectPlan, record: ObjectRecord) -> Draft:
        """The draft of a session's object, for a stream that continues it."""
        return Draft(self._stores, plan, record)


class Draft:
    """The object while its write is in flight; use it as an async context manager."""

    def __init__(self, stores: _Stores, plan: ObjectPlan, record: ObjectRecord) -> None:
        assert record.write is not None
        self._stores = stores
        self.plan = plan
        self.record = record
        self.write: WriteLease = record.write
        self._blobs: dict[int, Blob] = {}
        self._skipped: list[SkippedBlob] = []
        self._renewal: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[Any] | None = None
        self._lost = False
        self._done = False
        # A session outlives a broken stream: its parts stay for the next one.
        self.keep_on_error = False

    @property
    def object_id(self) -> str:
        return self.record.object_id

    @property
    def namespace_id(self) -> str:
        return self.record.namespace_id

    async def __aenter__(self) -> Self:
        if self.write.kind is not WriteKind.SESSION:  # a session's lease is its expiry
            self._writer = asyncio.current_task()
            self._renewal = asyncio.create_task(self._renew())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            await asyncio.wait([self._renewal])
        if self._lost and isinstance(error, asyncio.CancelledError) and self._writer:
            self._writer.uncancel()  # our own cancel: answer why instead
            lost = StorageUnavailable(LEASE_LOST)
            await self.fail(lost)
            raise lost from None
        if error is not None and not self._done and not self.keep_on_error:
            await self.fail(error)

    async def _renew(self) -> None:
        lease = self._stores.lease
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                until = self._stores.clock() + lease
                if not await self._stores.writes.renew(self.object_id, self.write.write_id, until):
                    log.warning(
                        "write %s of %s lost its lease: stopping it",
                        self.write.write_id,
                        self.object_id,
                    )
                    self._lost = True
                    if self._writer is not None:
                        self._writer.cancel()  # a janitor took it: its work is wasted now
                    return
            except BucketdError as error:  # MongoDB away for a moment: try again next round
                log.warning("could not renew write %s: %s", self.write.write_id, error.message)

    async def announce(self, planned: PlannedBlob, pending: PendingContent) -> None:
        """One more blob, announced mid-stream: its reference and key recorded before its bytes."""
        self.plan = dataclasses.replace(self.plan, blobs=[*self.plan.blobs, planned])
        ref = holder_ref(self.object_id, planned.blob_id)
        await self._stores.writes.add_pending(self.object_id, self.write.write_id, pending, ref)
        self.write = dataclasses.replace(
            self.write, refs=[*self.write.refs, ref], pending=[*self.write.pending, pending]
        )

    @property
    def target(self) -> BlobTarget:
        """What a blob's source is told of this write."""
        return BlobTarget(
            namespace_id=self.namespace_id,
            bucket_id=self.record.bucket_id,
            object_id=self.object_id,
            write_id=self.write.write_id,
            skip_duplicates=self.plan.skip_duplicates,
        )

    def hold(self, planned: PlannedBlob, stored: Stored) -> None:
        """What a source stored for the planned blob, kept for the commit."""
        if isinstance(stored, Skipped):
            self._skipped.append(
                SkippedBlob(
                    blob_index=planned.index,
                    property=planned.property,
                    sha256=stored.sha256,
                    existing_object_id=stored.holder,
                )
            )
        elif isinstance(stored, Reference):
            self._blobs[planned.index] = referenced_blob(planned, stored.url)
        else:
            if stored.new_bytes:
                size = stored.content.size_bytes
                metrics.INGESTED_BYTES.labels(ingest_path(planned.data)).inc(size)
            url = self._stores.storage.url(stored.content.storage_key)
            self._blobs[planned.index] = held_blob(planned, stored, url)

    async def commit(self) -> ObjectRecord:
        """The final record, if this write still holds its lease; then the replaced blobs go."""
        old = self.record
        blobs = [self._blobs[index] for index in sorted(self._blobs)]
        releases = [holder_ref(old.object_id, blob.blob_id) for blob in old.blobs]
        final = dataclasses.replace(
            old,
            blobs=blobs,
            skipped=self._skipped,
            status=STORED_STATUS,
            error=None,
            content_hash=content_hash(blobs),
            key_prefix=self.plan.key_prefix,
            metadata=self.plan.metadata,
            updated_at=self._stores.clock(),
            write=None,
            write_id=self.write.write_id,
            releases=releases,
        )
        if not await self._stores.writes.commit(final, self.write.write_id):
            raise StorageUnavailable(LEASE_LOST)
        self._done = True
        metrics.OBJECTS_CREATED.inc()
        if releases:
            await self._stores.registry.release(
                self.namespace_id, releases, now=self._stores.clock()
            )
            await self._stores.writes.clear_releases(self.object_id, releases)
        return dataclasses.replace(final, releases=[])

    async def fail(self, error: BaseException) -> None:
        """Undo what this write did; a new object ends FAILED with the reason. The answer waits
        for this no longer than the call's deadline allows (services/background.py)."""
        self._done = True
        message = error.public_message if isinstance(error, BucketdError) else "internal error"
        if isinstance(error, asyncio.CancelledError):
            message = "the call was cancelled before the object was stored"
        await clean_up(
            self._undo(message),
            seconds=self._stores.cleanup_seconds,
            what=f"cleanup of {self.object_id}",
        )

    async def _undo(self, message: str) -> None:
        drafts, write_id = self._stores, self.write.write_id
        try:
            if self.write.new_object:
                await drafts.writes.fail(self.object_id, write_id, message, now=drafts.clock())
            await drafts.registry.release(self.namespace_id, self.write.refs, now=drafts.clock())
            try:
                await drop_pending(drafts.storage, drafts.registry, self.write.pending)
            except BucketdError as cleanup:  # S3 away: the next sweep does it
                log.warning(
                    "cleanup of %s left to the janitor: %s", self.object_id, cleanup.message
                )
                await drafts.writes.expire(self.object_id, write_id, now=drafts.clock())
                return
            await drafts.writes.end_write(self.object_id, write_id)
        except BucketdError as cleanup:  # MongoDB away: the janitor does it once the lease ends
            log.warning("cleanup of %s left to the janitor: %s", self.object_id, cleanup.message)
