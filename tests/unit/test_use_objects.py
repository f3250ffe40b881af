"""ObjectReads, Deletions, Tasks and Purge over the fakes (tests/unit/world.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from bucketd.server.domain.aggregation import Aggregation, GroupBy, Metric
from bucketd.server.domain.listing import ListQuery
from bucketd.server.domain.models import Namespace, ObjectRecord, Principal
from bucketd.server.domain.object_plan import BlobInput, ObjectInput
from bucketd.server.domain.status import Status
from bucketd.server.domain.tasks import TaskType
from bucketd.server.errors import FailedPrecondition, InvalidArgument, NotFound
from bucketd.server.services.buckets import BucketUpdate, NewBucket
from bucketd.server.services.deletions import SoftDeletion
from tests.unit.world import World, world

SCHEMA = {"properties": {"title": {"type": "string"}, "note": {"type": "text"}}}


async def _bucket(w: World, namespace: Namespace, name: str = "things") -> None:
    new = NewBucket(name=name, description=None, bucket_schema=SCHEMA, unique_key=None, metadata={})
    await w.services.buckets.create(namespace, new)


async def _object(w: World, namespace: Namespace, title: str, **fields: Any) -> ObjectRecord:
    w.clock.advance(1)
    blob = BlobInput(property="note", type="text", data=f"note {title}")
    request = ObjectInput(blobs=[blob], metadata={"title": title, **fields})
    return await w.services.objects.create(namespace, "things", request)


async def _world_with(titles: list[str]) -> tuple[World, Namespace, list[ObjectRecord]]:
    w = world()
    _, namespace = await w.tenant()
    await _bucket(w, namespace)
    made = [await _object(w, namespace, title, n=i) for i, title in enumerate(titles)]
    return w, namespace, made


async def test_object_lists_filter_and_page_by_keyset_cursor() -> None:
    w, namespace, made = await _world_with(["alpha", "bravo", "charlie", "delta", "echo"])
    reads = w.services.object_reads
    first = await reads.page(
        namespace, "things", ListQuery(limit=2, filters={"NOT": [{"title": "charlie"}]})
    )
    assert [r.object_id for r in first.results] == [made[0].object_id, made[1].object_id]
    assert first.stats.total_objects == 4 and first.stats.objects_by_status == {"PENDING": 4}
    rest = await reads.page(
        namespace,
        "things",
        ListQuery(limit=2, cursor=first.next_cursor, filters={"NOT": [{"title": "charlie"}]}),
    )
    assert [r.object_id for r in rest.results] == [made[3].object_id, made[4].object_id]
    with pytest.raises(InvalidArgument, match="default sort"):
        await reads.page(
            namespace, "things", ListQuery(cursor=first.next_cursor, sort_field="title")
        )
    found = await reads.page(namespace, "things", ListQuery(search="DELT"))
    assert [r.object_id for r in found.results] == [made[3].object_id]


async def test_aggregations_run_over_the_matching_objects() -> None:
    w, namespace, _ = await _world_with(["a", "a", "b"])
    spec = Aggregation(
        group_by=[GroupBy("title")],
        metrics=[Metric("count", "n"), Metric("sum", "total", field="n")],
    )
    rows, total = await w.services.object_reads.aggregate(
        namespace, "things", spec, {"NOT": [{"n": 0}]}
    )
    assert total == 2
    assert sorted(rows, key=lambda row: row["group"]["title"]) == [
        {"group": {"title": "a"}, "metrics": {"n": 1, "total": 1}},
        {"group": {"title": "b"}, "metrics": {"n": 1, "total": 2}},
    ]
    with pytest.raises(InvalidArgument, match=r"aggregations\[0\]\.function"):
        bad = Aggregation(group_by=[GroupBy("title")], metrics=[Metric("median", "m", field="n")])
        await w.services.object_reads.aggregate(namespace, "things", bad, None)


async def test_deleting_an_object_releases_its_bytes_and_claims() -> None:
    w, namespace, (made,) = await _world_with(["only"])
    content_id = made.blobs[0].content_id
    assert content_id is not None and w.registry.holders(content_id)
    await w.services.deletions.delete_object(namespace, "things", made.object_id)
    assert w.registry.holders(content_id) == []
    with pytest.raises(NotFound):
        await w.services.object_reads.get(namespace, "things", made.object_id)
    with pytest.raises(NotFound):
        await w.services.deletions.delete_object(namespace, "things", made.object_id)


async def test_soft_deleted_objects_are_hidden_but_keep_their_bytes() -> None:
    w, namespace, made = await _world_with(["a", "b"])
    request = ObjectInput(
        blobs=[BlobInput(property="note", type="text", data="x")], idempotency_key="once"
    )
    keyed = await w.services.objects.create(namespace, "things", request)
    hidden = await w.services.deletions.soft_delete(
        namespace, "things", SoftDeletion([made[0].object_id, keyed.object_id, "obj_missing"])
    )
    assert hidden == [made[0].object_id, keyed.object_id]
    page = await w.services.object_reads.page(namespace, "things", ListQuery())
    assert [r.object_id for r in page.results] == [made[1].object_id]
    content_id = made[0].blobs[0].content_id
    assert content_id and w.registry.holders(content_id)
    again = await w.services.objects.create(namespace, "things", request)
    assert again.object_id != keyed.object_id  # its idempotency key is free again


async def test_deleting_a_bucket_is_a_task_that_purges_what_it_held() -> None:
    w, namespace, _ = await _world_with(["a", "b"])
    deletion = await w.services.deletions.delete_bucket(namespace, "things")
    assert deletion.task.task_type == TaskType.DELETE_BUCKET and deletion.object_count == 2
    with pytest.raises(NotFound):
        await w.services.buckets.get(namespace, "things")
    await w.services.tasks.drain()
    principal = await w.services.api_keys.authenticate(f"Bearer {await _key(w)}")  # acme's
    task = await w.services.tasks.get(principal, deletion.task.task_id)
    assert task.status == Status.COMPLETED and task.outputs["objects_deleted"] == 2
    assert w.objects.records == {}
    assert all(not e.holders for e in w.registry.entries.values())
    w.db.tasks[task.task_id] = dataclasses.replace(task, status=Status.IN_PROGRESS)
    with pytest.raises(FailedPrecondition, match="cannot stop halfway"):
        await w.services.tasks.kill(principal, task.task_id)


def _delete_before_claims(w: World, namespace: Namespace, principal: Principal, what: str) -> None:
    """Make the next create find its bucket, then see the bucket's (or the namespace's)
    deletion task run to its end before it claims its idempotency key and writes its record."""
    claim = w.objects.claim

    async def claim_once_purged(claim_id: str, **scope: str) -> str | None:
        if what == "bucket":
            await w.services.deletions.delete_bucket(namespace, "things")
        else:
            await w.services.deletions.delete_namespace(principal, namespace.namespace_name)
        await w.services.tasks.drain()
        assert w.db.buckets == {} and w.objects.records == {}  # the task's last pass is done
        w.objects.claim = claim  # type: ignore[method-assign]
        return await claim(claim_id, **scope)

    w.objects.claim = claim_once_purged  # type: ignore[method-assign]


LATE = ObjectInput(
    blobs=[BlobInput(property="note", type="text", data="late")], idempotency_key="late"
)


@pytest.mark.parametrize("deleted", ["bucket", "namespace"])
async def test_an_object_created_across_a_deletion_does_not_outlive_it(deleted: str) -> None:
    """The create looked its bucket up just before the bucket's (or the namespace's) deletion
    and writes its record just after the deletion task's last pass: it must leave nothing
    behind, and say the bucket is gone."""
    w, namespace, _ = await _world_with([])
    principal = await w.services.api_keys.authenticate(f"Bearer {await _key(w)}")
    _delete_before_claims(w, namespace, principal, deleted)
    with pytest.raises(NotFound, match="Bucket 'things' not found"):
        await w.services.objects.create(namespace, "things", LATE)
    assert w.objects.records == {}
    assert w.db.claims == {}
    assert w.registry.entries == {} and w.storage.objects == {}


async def test_a_writer_that_dies_before_its_check_leaves_its_object_to_the_janitor() -> None:
    """The same race, and the writer's process dies between its record and its look at the
    bucket: once the lease runs out, the janitor removes the object instead of failing it."""
    w, namespace, _ = await _world_with([])
    principal = await w.services.api_keys.authenticate(f"Bearer {await _key(w)}")
    _delete_before_claims(w, namespace, principal, "bucket")

    async def insert_then_die(record: ObjectRecord) -> None:
        w.objects.records[record.object_id] = record
        raise asyncio.CancelledError  # the process stops here

    w.objects.insert = insert_then_die  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await w.services.objects.create(namespace, "things", LATE)
    assert len(w.objects.records) == 1 and len(w.db.claims) == 1  # what the dead writer left
    w.clock.advance(3600)
    report = await w.services.janitor.sweep()
    assert report.writes_reclaimed == 1
    assert w.objects.records == {} and w.db.claims == {}


async def _key(w: World) -> str:
    issued = await w.services.api_keys.issue("acme", test=True)
    return issued.plaintext


async def test_deleting_a_namespace_purges_everything_in_it_and_nothing_else() -> None:
    w = world()
    principal, doomed = await w.tenant("acme", "doomed")
    _, kept = await w.tenant("acme", "kept")
    for namespace in (doomed, kept):
        await _bucket(w, namespace)
        await _object(w, namespace, "x")
    task, _ = await w.services.deletions.delete_namespace(principal, "doomed")
    await w.services.tasks.drain()
    done = await w.services.tasks.get(principal, task.task_id)
    assert done.status == Status.COMPLETED and done.additional_data["objects_deleted"] == 1
    assert {r.namespace_id for r in w.objects.records.values()} == {kept.namespace_id}
    assert {b.namespace_id for b in w.db.buckets.values()} == {kept.namespace_id}
    assert all(key.startswith(f"{kept.namespace_id}/") for key in w.storage.objects)
    assert {e.content.namespace_id for e in w.registry.entries.values()} == {kept.namespace_id}


async def test_tasks_are_scoped_listed_and_taken_over_when_their_lease_runs_out() -> None:
    w = world()
    acme, namespace = await w.tenant("acme", "default")
    globex, _ = await w.tenant("globex", "default")
    await _bucket(w, namespace)
    await _bucket(w, namespace, "second")
    w.services.tasks.handle(TaskType.DELETE_BUCKET, _never_finishes)
    deletion = await w.services.deletions.delete_bucket(namespace, "second")
    await asyncio.sleep(0)  # the task starts on this instance (IN_PROGRESS, under its lease)
    assert w.db.tasks[deletion.task.task_id].status == Status.IN_PROGRESS
    with pytest.raises(NotFound):
        await w.services.tasks.get(globex, deletion.task.task_id)
    found, total, _ = await w.services.tasks.page(
        acme, ListQuery(filters={"task_type": "api_buckets_delete"})
    )
    assert total == 1 and found[0].task_id == deletion.task.task_id
    other = world(beside=w)  # a second instance on the same database
    assert await other.services.tasks.sweep() == 0  # the first one's lease still holds
    await w.services.tasks.close()  # the first instance dies: its task stays IN_PROGRESS
    w.clock.advance(3600)
    assert await other.services.tasks.sweep() == 1
    finished = await other.services.tasks.get(acme, deletion.task.task_id)
    assert finished.status == Status.COMPLETED and finished.attempts == 2
    assert await other.services.tasks.sweep() == 0  # done once


async def _never_finishes(*_: Any) -> Any:
    await asyncio.Event().wait()


async def test_a_create_never_writes_against_a_stale_cached_bucket() -> None:
    """Instance A plans creates against the bucket as it read it lately (no MongoDB read);
    instance B changes the bucket meanwhile: A's next create sees the bucket as it is."""
    a, namespace, _ = await _world_with(["cached"])
    b = world(beside=a)
    note_free = {"properties": {"title": {"type": "string"}}}
    await b.services.buckets.update(
        namespace, "things", BucketUpdate(bucket_schema=note_free, force_schema_break=True)
    )
    with pytest.raises(InvalidArgument, match="note"):
        await _object(a, namespace, "after the change")
    assert [r.metadata["title"] for r in a.objects.records.values()] == ["cached"]
    await b.services.deletions.delete_bucket(namespace, "things")
    await b.services.tasks.drain()
    await _bucket(b, namespace)  # the same name, a new bucket
    made = await _object(a, namespace, "in the new bucket")
    (bucket,) = a.db.buckets.values()
    assert made.bucket_id == bucket.bucket_id
    assert [r.object_id for r in a.objects.records.values()] == [made.object_id]


async def test_an_upsert_into_an_existing_object_never_writes_against_a_stale_cached_bucket() -> (
    None
):
    """The unique key's holder is taken over, not inserted: the bucket is read again there too,
    so instance B's schema change stops instance A's upsert planned against its cached copy."""
    a = world()
    _, namespace = await a.tenant()
    keyed = {"fields": ["title"], "default_policy": "upsert"}
    new = NewBucket(
        name="things", description=None, bucket_schema=SCHEMA, unique_key=keyed, metadata={}
    )
    await a.services.buckets.create(namespace, new)
    first = await _object(a, namespace, "same")
    b = world(beside=a)
    note_free = {"properties": {"title": {"type": "string"}}}
    await b.services.buckets.update(
        namespace, "things", BucketUpdate(bucket_schema=note_free, force_schema_break=True)
    )
    with pytest.raises(InvalidArgument, match="note"):
        await _object(a, namespace, "same", n=2)
    (record,) = a.objects.records.values()
    assert record.object_id == first.object_id and "n" not in record.metadata
    assert record.write is None  # the taken-over write was given back
