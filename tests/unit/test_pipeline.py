"""The ingest pipeline's rules, over in-memory fakes of its ports (tests/unit/fakes.py):
record first, deduplication, skip, force, FAILED on every failure path, lease expiry, grace-period
collection."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord
from bucketd.server.domain.object_plan import BlobInput, Limits, ObjectInput, plan_object
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.status import Status
from bucketd.server.domain.writes import WriteKind
from bucketd.server.errors import InvalidArgument, StorageUnavailable
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.contents import Contents
from bucketd.server.services.drafts import LEASE_LOST, Draft, Drafts
from bucketd.server.services.janitor import EXPIRED_WRITE, STALE_MULTIPART_BATCH, Janitor
from bucketd.server.services.object_claims import ObjectClaims
from bucketd.server.services.objects import ObjectService
from tests.unit.fakes import (
    FakeBuckets,
    FakeClock,
    FakeDatabase,
    FakeFetcher,
    FakeObjects,
    FakeRegistry,
    FakeStorage,
    Journal,
)

LEASE = timedelta(seconds=60)
GRACE = timedelta(seconds=100)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACE = Namespace(
    namespace_id="ns_1",
    organization_id="org_1",
    namespace_name="default",
    description=None,
    created_at=NOW,
    updated_at=NOW,
)
BUCKET = Bucket(
    bucket_id="bkt_1",
    namespace_id="ns_1",
    bucket_name="b",
    description=None,
    bucket_schema=BucketSchema.parse({"properties": {"doc": {"type": "text"}}}),
    unique_key=None,
    created_at=NOW,
    updated_at=NOW,
)
TEXT = b"hello, registry"


@dataclass
class World:
    journal: Journal
    clock: FakeClock
    registry: FakeRegistry
    storage: FakeStorage
    objects: FakeObjects
    drafts: Drafts
    sources: BlobSources
    service: ObjectService
    janitor: Janitor


def _world(urls: dict[str, list[bytes]] | None = None) -> World:
    journal: Journal = []
    clock = FakeClock()
    registry, storage, objects = FakeRegistry(journal), FakeStorage(journal), FakeObjects(journal)
    db = FakeDatabase()
    db.buckets[BUCKET.bucket_id] = BUCKET  # the bucket every test writes into
    buckets = FakeBuckets(db)
    contents = Contents(registry=registry, storage=storage, clock=clock)
    drafts = Drafts(
        objects=objects,
        buckets=buckets,
        writes=objects,
        claims=ObjectClaims(objects, objects),
        registry=registry,
        storage=storage,
        lease=LEASE,
        clock=clock,
    )
    sources = BlobSources(
        contents=contents,
        registry=registry,
        fetcher=FakeFetcher(urls or {}),
        uploads=cast(Any, None),
        objects=objects,
        writes=objects,
    )
    service = ObjectService(
        objects=objects,
        buckets=cast(Any, None),
        drafts=drafts,
        sources=sources,
        limits=Limits(max_inline_bytes=1024, max_blobs=4),
        clock=clock,
    )
    janitor = Janitor(
        writes=objects,
        drafts=drafts,
        registry=registry,
        storage=storage,
        confirmations=cast(Any, None),
        tasks=cast(Any, None),
        lease=LEASE,
        grace=GRACE,
        clock=clock,
    )
    return World(journal, clock, registry, storage, objects, drafts, sources, service, janitor)


def _inline(data: bytes = TEXT, **fields: Any) -> BlobInput:
    encoded = {"base64": base64.b64encode(data).decode(), "mime_type": "text/plain"}
    return BlobInput(property="doc", type="text", data=encoded, **fields)


async def _create(world: World, *blobs: BlobInput, **request: Any) -> ObjectRecord:
    plan = plan_object(BUCKET, ObjectInput(blobs=list(blobs), **request), world.service.limits)
    return await world.service.write(NAMESPACE, BUCKET, plan, WriteKind.CREATE)


def _names(journal: Journal) -> list[str]:
    return [entry[0] for entry in journal]


async def test_the_record_comes_first_then_the_bytes_then_the_final_status() -> None:
    world = _world()
    record = await _create(world, _inline())
    assert record.status == Status.PENDING and record.write is None
    assert _names(world.journal) == ["insert", "put", "register", "commit"]
    assert world.journal[0][2] == Status.PROCESSING
    (blob,) = record.blobs
    assert blob.sha256 == hashlib.sha256(TEXT).hexdigest()
    assert world.storage.objects[blob.storage_key or ""] == TEXT


async def test_registered_bytes_are_held_not_written_again() -> None:
    world = _world()
    first = await _create(world, _inline())
    world.journal.clear()
    second = await _create(world, _inline())
    assert "put" not in _names(world.journal)  # no S3 request at all
    content_id = first.blobs[0].content_id or ""
    assert second.blobs[0].content_id == content_id
    assert len(world.registry.holders(content_id)) == 2


async def test_force_writes_a_copy_that_later_bytes_never_deduplicate_against() -> None:
    world = _world()
    first = await _create(world, _inline())
    forced = await _create(world, _inline(), force_remirror=True)
    later = await _create(world, _inline())
    assert forced.blobs[0].content_id != first.blobs[0].content_id
    assert later.blobs[0].content_id == first.blobs[0].content_id
    assert len(world.storage.objects) == 2


async def test_skip_duplicates_skips_the_blob_and_holds_nothing() -> None:
    world = _world()
    first = await _create(world, _inline())
    skipped = await _create(world, _inline(), skip_duplicates=True)
    assert skipped.blobs == []
    assert skipped.skipped[0].existing_object_id == first.object_id
    assert world.registry.holders(first.blobs[0].content_id or "") == [
        f"{first.object_id}/{first.blobs[0].blob_id}"
    ]


async def test_streamed_bytes_already_registered_are_never_completed() -> None:
    world = _world({"https://files.example/a.txt": [TEXT[:5], TEXT[5:]]})
    first = await _create(world, _inline())
    world.journal.clear()
    url = BlobInput(property="doc", type="text", data="https://files.example/a.txt")
    fetched = await _create(world, url)
    names = _names(world.journal)
    assert "start" in names and "abort" in names and "complete" not in names
    assert fetched.blobs[0].content_id == first.blobs[0].content_id
    assert world.storage.multipart == {}


@pytest.mark.parametrize("failing", ["put", "register"])
async def test_a_failure_after_the_record_leaves_it_failed_and_drops_its_bytes(
    failing: str,
) -> None:
    world = _world()
    if failing == "put":
        world.storage.fail.add("put")
    else:

        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise StorageUnavailable("MongoDB error: not primary")

        world.registry.register = refuse  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailable):
        await _create(world, _inline())
    (record,) = world.objects.records.values()
    assert record.status == Status.FAILED and record.error and record.write is None
    assert world.storage.objects == {}  # a PUT that was never registered is deleted
    assert _names(world.journal)[0] == "insert"


async def test_a_source_that_cannot_be_read_fails_the_object_with_its_reason() -> None:
    world = _world()
    url = BlobInput(property="doc", type="text", data="https://files.example/missing")
    with pytest.raises(KeyError):
        await _create(world, url)
    (record,) = world.objects.records.values()
    assert record.status == Status.FAILED and record.error == "internal error"
    assert world.storage.multipart == {}


async def test_a_mismatched_type_found_after_the_bytes_fails_and_aborts() -> None:
    world = _world({"https://files.example/a.png": [b"\x89PNG\r\n\x1a\n" + b"0" * 64]})
    url = BlobInput(property="doc", type="text", data="https://files.example/a.png")
    with pytest.raises(InvalidArgument, match="does not fit a text property"):
        await _create(world, url)
    (record,) = world.objects.records.values()
    assert record.status == Status.FAILED and "does not fit" in (record.error or "")
    assert world.storage.multipart == {} and world.storage.objects == {}


async def _dead_write(world: World) -> Draft:
    """A draft whose writer went away after starting a multipart upload."""
    plan = plan_object(BUCKET, ObjectInput(blobs=[_inline()]), world.service.limits)
    pending = [world.service._sources.pending_for("ns_1", b) for b in plan.blobs]
    draft = await world.drafts.begin(
        NAMESPACE, BUCKET, plan, kind=WriteKind.CREATE, pending=pending
    )
    assert isinstance(draft, Draft)
    multipart_id = await world.storage.start_multipart(pending[0].storage_key, mime_type="x")
    await world.objects.set_multipart(draft.object_id, draft.write.write_id, 0, multipart_id)
    return draft


async def test_a_live_lease_is_never_reclaimed() -> None:
    world = _world()
    await _dead_write(world)
    world.clock.advance(LEASE.total_seconds() - 1)
    assert await world.janitor.reclaim_writes() == (0, 0)
    (record,) = world.objects.records.values()
    assert record.status == Status.PROCESSING


async def test_an_expired_lease_is_reclaimed_and_its_writer_cannot_commit() -> None:
    world = _world()
    draft = await _dead_write(world)
    world.clock.advance(LEASE.total_seconds() + 1)
    assert await world.janitor.reclaim_writes() == (1, 1)
    (record,) = world.objects.records.values()
    assert record.status == Status.FAILED and record.error == EXPIRED_WRITE
    assert record.write is None and world.storage.multipart == {}
    with pytest.raises(StorageUnavailable, match="lease ran out"):
        await draft.commit()
    assert LEASE_LOST.startswith("the write's lease ran out")


async def test_unheld_bytes_go_after_the_grace_period_only() -> None:
    world = _world()
    record = await _create(world, _inline())
    key = record.blobs[0].storage_key or ""
    ref = f"{record.object_id}/{record.blobs[0].blob_id}"
    await world.registry.release("ns_1", [ref], now=world.clock())
    world.clock.advance(GRACE.total_seconds() - 1)
    assert await world.janitor.collect_contents() == 0 and key in world.storage.objects
    world.clock.advance(2)
    assert await world.janitor.collect_contents() == 1 and key not in world.storage.objects


async def test_bytes_reused_as_their_last_holder_goes_are_kept() -> None:
    world = _world()
    first = await _create(world, _inline())
    ref = f"{first.object_id}/{first.blobs[0].blob_id}"
    await world.registry.release("ns_1", [ref], now=world.clock())  # the last holder is deleted
    second = await _create(world, _inline())  # ... while a create reuses the same bytes
    world.clock.advance(GRACE.total_seconds() * 2)
    assert await world.janitor.collect_contents() == 0
    assert second.blobs[0].content_id == first.blobs[0].content_id
    assert world.storage.objects[second.blobs[0].storage_key or ""] == TEXT


async def test_the_stale_multipart_sweep_is_bounded_and_never_aborts_a_named_upload() -> None:
    """More old uploads that writes name than one batch, listed first, then orphans: the
    orphans go (at most a batch per sweep) and every named upload stays."""
    world = _world()
    for _ in range(STALE_MULTIPART_BATCH + 1):
        await _dead_write(world)
    named = set(world.storage.multipart)
    orphans = [
        await world.storage.start_multipart(f"orphan/{i}", mime_type="x")
        for i in range(STALE_MULTIPART_BATCH + 5)
    ]
    assert await world.janitor.abort_stale_multiparts() == STALE_MULTIPART_BATCH
    assert await world.janitor.abort_stale_multiparts() == 5
    assert await world.janitor.abort_stale_multiparts() == 0
    assert len(named) == STALE_MULTIPART_BATCH + 1 and set(world.storage.multipart) == named
    assert not set(orphans) & set(world.storage.multipart)
