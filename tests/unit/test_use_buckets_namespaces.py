"""BucketService and NamespaceService over the fakes (tests/unit/world.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bucketd.server.domain.listing import ListQuery
from bucketd.server.domain.object_plan import BlobInput, ObjectInput
from bucketd.server.errors import AlreadyExists, InvalidArgument, NamespaceRequired, NotFound
from bucketd.server.services.buckets import BucketUpdate, NewBucket
from tests.unit.world import World, world

SCHEMA = {"properties": {"title": {"type": "string"}, "note": {"type": "text"}}}


def _new(name: str, **fields: Any) -> NewBucket:
    values: dict[str, Any] = {
        "description": None,
        "bucket_schema": SCHEMA,
        "unique_key": None,
        "metadata": {},
    }
    return NewBucket(name=name, **{**values, **fields})


async def _with_buckets(names: list[str]) -> tuple[World, Any]:
    w = world()
    _, namespace = await w.tenant()
    for name in names:
        w.clock.advance(1)
        await w.services.buckets.create(namespace, _new(name, description=f"about {name}"))
    return w, namespace


async def test_bucket_names_are_unique_per_namespace_only() -> None:
    w, namespace = await _with_buckets(["photos"])
    with pytest.raises(AlreadyExists, match="photos"):
        await w.services.buckets.create(namespace, _new("photos"))
    principal, _ = await w.tenant("acme", "second")
    other = await w.services.namespaces.resolve(principal, "second")
    made = await w.services.buckets.create(other, _new("photos"))
    assert (await w.services.buckets.get(other, made.bucket_id)).bucket_name == "photos"
    with pytest.raises(NotFound):
        await w.services.buckets.get(
            other, (await w.services.buckets.get(namespace, "photos")).bucket_id
        )


async def test_bucket_lists_filter_search_sort_and_page() -> None:
    w, namespace = await _with_buckets(["red1", "red2", "red3", "other"])
    buckets = w.services.buckets
    page = await buckets.page(
        namespace, ListQuery(search="RED", sort_field="bucket_name", sort_direction="desc", limit=2)
    )
    assert [b.bucket_name for b in page.results] == ["red3", "red2"] and page.total == 3
    second = await buckets.page(
        namespace,
        ListQuery(search="RED", sort_field="bucket_name", sort_direction="desc", limit=2, offset=2),
    )
    assert [b.bucket_name for b in second.results] == ["red1"]
    filtered = await buckets.page(
        namespace,
        ListQuery(filters={"OR": [{"bucket_name": "other"}, {"description": "about red2"}]}),
    )
    assert sorted(b.bucket_name for b in filtered.results) == ["other", "red2"]
    with pytest.raises(InvalidArgument, match="not sortable"):
        await buckets.page(namespace, ListQuery(sort_field="object_count"))


async def test_bucket_usage_counts_stored_objects_only() -> None:
    w, namespace = await _with_buckets(["photos", "empty"])
    blob = BlobInput(property="note", type="text", data="hello")
    for title in ("a", "b"):
        await w.services.objects.create(
            namespace, "photos", ObjectInput(blobs=[blob], metadata={"title": title})
        )
    photos = await w.services.buckets.view(namespace, "photos")
    assert photos.object_count == 2 and photos.total_size_bytes == 10
    page = await w.services.buckets.page(namespace, ListQuery(filters={"bucket_name": "photos"}))
    assert (page.total, page.total_objects, page.total_size_bytes) == (1, 2, 10)


async def test_bucket_schema_changes_need_force_when_they_break() -> None:
    w, namespace = await _with_buckets(["photos"])
    grown = {"properties": {**SCHEMA["properties"], "score": {"type": "number"}}}
    updated = await w.services.buckets.update(
        namespace, "photos", BucketUpdate(bucket_schema=grown)
    )
    assert "score" in updated.bucket_schema.properties
    narrowed = {"properties": {"title": {"type": "string"}}}
    with pytest.raises(InvalidArgument, match="'note' is removed"):
        await w.services.buckets.update(namespace, "photos", BucketUpdate(bucket_schema=narrowed))
    forced = BucketUpdate(bucket_schema=narrowed, force_schema_break=True)
    assert list(
        (await w.services.buckets.update(namespace, "photos", forced)).bucket_schema.properties
    ) == ["title"]


async def test_namespaces_resolve_by_name_or_id_within_their_organization() -> None:
    w = world()
    acme, mine = await w.tenant("acme", "default")
    globex, theirs = await w.tenant("globex", "default")
    namespaces = w.services.namespaces
    assert (await namespaces.resolve(acme, mine.namespace_id)).namespace_id == mine.namespace_id
    assert (await namespaces.resolve(acme, "default")).namespace_id == mine.namespace_id
    with pytest.raises(NotFound):
        await namespaces.resolve(acme, theirs.namespace_id)  # another organization's: missing
    with pytest.raises(NamespaceRequired):
        await namespaces.resolve(acme, " ")
    assert (await namespaces.resolve(globex, "default")).namespace_id == theirs.namespace_id


async def test_namespace_lists_updates_and_stats() -> None:
    w = world()
    acme, first = await w.tenant("acme", "alpha")
    for name in ("beta", "gamma"):
        w.clock.advance(1)
        await w.services.namespaces.create(acme, name=name, description=f"the {name} one")
    namespaces = w.services.namespaces
    page = await namespaces.page(acme, ListQuery(search="the", limit=1))
    assert [v.namespace.namespace_name for v in page.results] == ["beta"] and page.total == 2
    renamed = await namespaces.update(acme, "beta", name="delta", description=None)
    assert renamed.namespace.namespace_name == "delta"
    with pytest.raises(AlreadyExists):
        await namespaces.update(acme, "delta", name="gamma", description=None)
    await w.services.buckets.create(first, _new("photos"))
    stats = await namespaces.stats(acme, "alpha")
    assert (stats.counts.bucket_count, stats.counts.object_count) == (1, 0)
    globex, theirs = await w.tenant("globex", "default")
    batch = await namespaces.stats_batch(acme, [first.namespace_id, theirs.namespace_id])
    assert [v.namespace.namespace_id for v in batch] == [first.namespace_id]
    assert await namespaces.ensure_indexes(acme, "alpha")
    with pytest.raises(NotFound):
        await namespaces.ensure_indexes(globex, "alpha")
