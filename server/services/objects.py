"""Creating and changing objects: plan once, then one pipeline writes them (services/drafts.py).

Order of writes (the design's rule): the record first (PROCESSING, with its write lease), then
the bytes, then the final status — any failure on the way leaves a new object FAILED with
`error` set, and what the write stored is reclaimed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from bucketd.server.domain.batches import (
    BatchFailure,
    BatchOutcome,
    all_failed,
    check_batch_size,
    check_item_bucket,
)
from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord
from bucketd.server.domain.object_plan import Limits, ObjectInput, ObjectPlan, plan_object
from bucketd.server.domain.writes import WriteKind
from bucketd.server.errors import BucketdError, FailedPrecondition, NotFound
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.buckets import (
    BucketChanged,
    BucketGone,
    BucketService,
    same_bucket,
)
from bucketd.server.services.drafts import Drafts
from bucketd.server.services.ports import ObjectStore

Clock = Callable[[], datetime]
# A create whose bucket changed under it is planned again, once (changing all along: a 409).
PLAN_ATTEMPTS = 2


def object_not_found(identifier: str, bucket: Bucket) -> NotFound:
    return NotFound(
        f"Object '{identifier}' not found in bucket '{bucket.bucket_name}'",
        details={"resource": "object", "id": identifier},
    )


class ObjectService:
    def __init__(
        self,
        *,
        objects: ObjectStore,
        buckets: BucketService,
        drafts: Drafts,
        sources: BlobSources,
        limits: Limits,
        clock: Clock,
    ) -> None:
        self._objects = objects
        self._buckets = buckets
        self._drafts = drafts
        self._sources = sources
        self._limits = limits
        self._clock = clock

    @property
    def limits(self) -> Limits:
        return self._limits

    async def create(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        request: ObjectInput,
        *,
        kind: WriteKind = WriteKind.CREATE,
    ) -> ObjectRecord:
        """Planned against the bucket as this instance read it lately (no MongoDB read): the
        draft checks it once its record is written, and a stale one is read and planned again."""
        bucket = await self._buckets.get(namespace, bucket_identifier, cached=True)
        for attempt in range(1, PLAN_ATTEMPTS + 1):
            bucket, plan = await self._plan(namespace, bucket_identifier, request, bucket)
            try:
                return await self.write(namespace, bucket, plan, kind)
            except (BucketChanged, BucketGone):
                if attempt == PLAN_ATTEMPTS:
                    raise  # changing all along, or gone: the 409 or the 404 says so
                bucket = await self._buckets.get(namespace, bucket_identifier)
        raise AssertionError("unreachable")

    async def _plan(
        self, namespace: Namespace, identifier: str, request: ObjectInput, bucket: Bucket
    ) -> tuple[Bucket, ObjectPlan]:
        """The plan against `bucket`, maybe a cached copy: a refusal is only final against
        the bucket as it is (read again; the same refusal if nothing changed)."""
        try:
            return bucket, plan_object(bucket, request, self._limits)
        except BucketdError:
            fresh = await self._buckets.get(namespace, identifier)
            if same_bucket(fresh, bucket):
                raise
            return fresh, plan_object(fresh, request, self._limits)

    async def write(
        self,
        namespace: Namespace,
        bucket: Bucket,
        plan: ObjectPlan,
        kind: WriteKind,
        *,
        target: ObjectRecord | None = None,
    ) -> ObjectRecord:
        """The planned object, written: record first, then each blob's bytes, then committed."""
        uploads = await self._sources.uploads_of(namespace.namespace_id, bucket.bucket_id, plan)
        pending = [self._sources.pending_for(namespace.namespace_id, b) for b in plan.blobs]
        started = await self._drafts.begin(
            namespace, bucket, plan, kind=kind, pending=pending, target=target
        )
        if isinstance(started, ObjectRecord):
            return started  # an idempotent retry: the object made the first time
        async with started as draft:
            where_to = draft.target
            for planned, item in zip(plan.blobs, pending, strict=True):
                draft.hold(planned, await self._sources.store(where_to, planned, item, uploads))
            return await draft.commit()

    async def create_batch(
        self, namespace: Namespace, bucket_identifier: str, requests: list[ObjectInput]
    ) -> BatchOutcome[ObjectRecord]:
        """Each object created on its own: a failure is reported with its index, not raised,
        unless every object failed (then one error names them all)."""
        check_batch_size("objects", len(requests))
        bucket = await self._buckets.get(namespace, bucket_identifier)  # missing: a 404
        outcome: BatchOutcome[ObjectRecord] = BatchOutcome()
        for index, request in enumerate(requests):
            try:
                named = request.bucket_identifier or (request.user_fields or {}).get(
                    "bucket_identifier"
                )
                check_item_bucket(index, named, bucket.bucket_name, bucket.bucket_id)
                outcome.succeeded.append(await self.create(namespace, bucket_identifier, request))
            except BucketdError as error:
                outcome.failed.append(BatchFailure(index, error))
        if not outcome.succeeded:
            raise all_failed("objects", outcome.failed)
        return outcome

    async def update(
        self,
        namespace: Namespace,
        bucket_identifier: str,
        object_identifier: str,
        request: ObjectInput,
        *,
        replace_blobs: bool,
    ) -> ObjectRecord:
        """PUT/PATCH: key_prefix and metadata (merged); blobs replaced when given (PUT)."""
        bucket = await self._buckets.get(namespace, bucket_identifier)
        existing = await self._objects.get(
            namespace.namespace_id, bucket.bucket_id, object_identifier
        )
        if existing is None:
            raise object_not_found(object_identifier, bucket)
        if existing.write is not None:
            raise FailedPrecondition(f"Object {object_identifier} is being written; retry")
        merged = dataclasses.replace(
            request,
            key_prefix=(
                request.key_prefix if request.key_prefix is not None else existing.key_prefix
            ),
            metadata={
                **existing.metadata,
                **(request.metadata or {}),
                **(request.user_fields or {}),
            },
            user_fields=None,
        )
        plan = plan_object(bucket, merged, self._limits)
        if replace_blobs and request.blobs:
            return await self.write(namespace, bucket, plan, WriteKind.CREATE, target=existing)
        updated = dataclasses.replace(
            existing, key_prefix=plan.key_prefix, metadata=plan.metadata, updated_at=self._clock()
        )
        if not await self._objects.update_fields(updated):
            raise FailedPrecondition(f"Object {object_identifier} is being written; retry")
        return updated
