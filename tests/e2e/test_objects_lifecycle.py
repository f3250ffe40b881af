"""Idempotency, unique-key policies, listing, update, patch, delete and batch."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from grpc import aio
from pymongo import AsyncMongoClient

from bucketd.server.domain.object_plan import BlobInput, ObjectInput, plan_object
from bucketd.server.domain.writes import WriteKind
from bucketd.server.errors import NotFound
from bucketd.server.settings import Settings
from bucketd.v1 import common_pb2, objects_pb2_grpc
from bucketd.v1 import objects_pb2 as pb
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import (
    PDF,
    PNG,
    b64,
    call,
    create,
    digest,
    make_bucket,
    s3_bytes,
    s3_keys,
)


def png_blob() -> dict[str, Any]:
    return {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}


async def test_idempotency_key_under_concurrent_retries(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    body = {"idempotency_key": "order-42", "blobs": [png_blob()]}
    replies = await asyncio.gather(*(create(service, acme, body) for _ in range(8)))
    assert {status for status, _ in replies} == {200}
    assert len({reply["object_id"] for _, reply in replies}) == 1
    _, listed = await call(
        service, "POST", "/v1/buckets/things/objects/list?include_total=true", acme, {}
    )
    assert listed["pagination"]["total"] == 1
    _, bucket = await call(service, "GET", "/v1/buckets/things", acme)
    assert bucket["object_count"] == 1


async def test_unique_key_policies(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme, unique_key={"fields": ["title"]})
    body = {"metadata": {"title": "Red"}, "blobs": [png_blob()]}
    status, reply = await create(service, acme, body)
    assert status == 400 and "policy" in reply["error"]["message"]
    status, missing = await create(service, acme, body, query="?policy=update")
    assert status == 404, missing
    status, first = await create(service, acme, body, query="?policy=insert")
    assert status == 200, first
    status, again = await create(service, acme, body, query="?policy=insert")
    assert status == 409 and first["object_id"] in again["error"]["message"]
    changed = {
        "metadata": {"title": "Red", "size": 42},
        "blobs": [{"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}],
    }
    status, upserted = await create(service, acme, changed, query="?policy=upsert")
    assert status == 200 and upserted["object_id"] == first["object_id"]
    assert upserted["metadata"] == {"title": "Red", "size": 42}
    assert [b["property"] for b in upserted["blobs"]] == ["doc"]
    status, updated = await create(
        service, acme, {"metadata": {"title": "Red"}, "blobs": []}, query="?policy=update"
    )
    assert status == 200 and updated["object_id"] == first["object_id"]
    _, bucket = await call(service, "GET", "/v1/buckets/things", acme)
    assert bucket["object_count"] == 1 and bucket["total_size_bytes"] == 0
    status, empty = await create(
        service, acme, {"metadata": {}, "blobs": []}, query="?policy=upsert"
    )
    assert status == 422 and "unique key field 'title'" in empty["error"]["message"]


async def test_list_paging_visits_every_object_once(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    created = set()
    for index in range(23):
        _, reply = await create(service, acme, {"metadata": {"n": index}, "blobs": []})
        created.add(reply["object_id"])
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=5" + (f"&cursor={cursor}" if cursor else "")
        status, page = await call(
            service, "POST", f"/v1/buckets/things/objects/list{query}", acme, {}
        )
        assert status == 200, page
        seen += [o["object_id"] for o in page["results"]]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 23 and set(seen) == created
    by_offset: list[str] = []
    for offset in range(0, 25, 7):
        _, page = await call(
            service, "POST", f"/v1/buckets/things/objects/list?limit=7&offset={offset}", acme, {}
        )
        by_offset += [o["object_id"] for o in page["results"]]
    assert sorted(by_offset) == sorted(created)


async def test_list_filters_search_sort_select(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    for title, size in (("Red shoe", 3), ("Blue shoe", 5), ("Green hat", 7)):
        await create(
            service,
            acme,
            {"key_prefix": "/shop", "metadata": {"title": title, "size": size}, "blobs": []},
        )
    body = {
        "filters": {"AND": [{"field": "metadata.size", "operator": "gte", "value": 5}]},
        "sort": {"field": "metadata.size", "direction": "desc"},
        "select": ["metadata.title"],
    }
    _, page = await call(service, "POST", "/v1/buckets/things/objects/list", acme, body)
    assert [o["metadata"] for o in page["results"]] == [
        {"title": "Green hat"},
        {"title": "Blue shoe"},
    ]
    assert page["results"][0]["blobs"] == [] and page["results"][0]["object_id"]
    _, found = await call(
        service, "POST", "/v1/buckets/things/objects/list", acme, {"search": "SHOE"}
    )
    assert len(found["results"]) == 2
    _, shorthand = await call(
        service,
        "POST",
        "/v1/buckets/things/objects/list",
        acme,
        {"filters": {"metadata.title": "green hat"}},
    )
    assert len(shorthand["results"]) == 1


async def test_update_patch_and_delete(service: Service, acme: Tenant, settings: Settings) -> None:
    await make_bucket(service, acme)
    _, first = await create(service, acme, {"metadata": {"a": 1}, "blobs": [png_blob()]})
    _, twin = await create(service, acme, {"blobs": [png_blob()]})
    path = f"/v1/buckets/things/objects/{first['object_id']}"
    status, patched = await call(service, "PATCH", path, acme, {"key_prefix": "/x", "b": 2})
    assert status == 200, patched
    assert patched["key_prefix"] == "/x" and patched["metadata"] == {"a": 1, "b": 2}
    pdf = {"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}
    status, put = await call(service, "PUT", path, acme, {"metadata": {"c": 3}, "blobs": [pdf]})
    assert status == 200, put
    assert put["metadata"] == {"a": 1, "b": 2, "c": 3}
    assert [b["details"]["hash"] for b in put["blobs"]] == [digest(PDF)]
    await service.services.janitor.sweep()
    contents = {k for k in await s3_keys(settings) if "/contents/" in k}
    assert {await s3_bytes(settings, f"s3://{settings.s3_bucket}/{k}") for k in contents} == {
        PNG,  # the twin still holds it
        PDF,
    }
    status, _ = await call(service, "DELETE", path, acme)
    assert status == 204
    assert (await call(service, "GET", path, acme))[0] == 404
    assert (await call(service, "DELETE", path, acme))[0] == 404
    await call(service, "DELETE", f"/v1/buckets/things/objects/{twin['object_id']}", acme)
    assert len([k for k in await s3_keys(settings) if "/contents/" in k]) == 2  # the grace
    await service.services.janitor.sweep()
    assert [k for k in await s3_keys(settings) if "/contents/" in k] == []


async def test_batch_is_partial_success(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    bad = {"blobs": [{"property": "nope", "type": "image", "data": "x"}]}
    body = {"objects": [{"blobs": [png_blob()]}, bad, {"metadata": {"k": 1}, "blobs": []}]}
    status, reply = await call(service, "POST", "/v1/buckets/things/objects/batch", acme, body)
    assert status == 200, reply
    assert (reply["total_requested"], reply["succeeded_count"], reply["failed_count"]) == (3, 2, 1)
    assert reply["failed"][0]["object_index"] == 1
    assert reply["failed"][0]["error_type"] == "ValidationError"
    assert "blobs[0].property" in reply["failed"][0]["error"]
    status, too_many = await call(
        service,
        "POST",
        "/v1/buckets/things/objects/batch",
        acme,
        {"objects": [{"blobs": []}] * 101},
    )
    assert status == 422 and "give 1 to 100 items" in too_many["error"]["message"]


async def test_deleting_a_bucket_removes_its_objects_and_bytes(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    await create(service, acme, {"blobs": [png_blob()]})
    status, task = await call(service, "DELETE", "/v1/buckets/things", acme)
    assert status == 200 and task["object_count"] == 1
    await service.services.tasks.drain()  # the deletion task released what the bucket held
    await service.services.janitor.sweep()
    assert [k for k in await s3_keys(settings) if "/contents/" in k] == []
    await make_bucket(service, acme)
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    assert listed["results"] == []


async def test_a_create_that_found_its_bucket_before_its_deletion_leaves_nothing(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    """A create looks its bucket up, then the bucket is deleted and its task runs to its end,
    then the create writes: against the real MongoDB, it answers NOT_FOUND and no record or
    claim of the bucket is left (the timing is forced by calling the use case with the bucket
    it looked up; a race over HTTP hits this window too rarely to test it)."""
    await make_bucket(service, acme)
    principal = await service.services.api_keys.authenticate(f"Bearer {acme.api_key}")
    namespace = await service.services.namespaces.find(principal, "default")
    bucket = await service.services.buckets.get(namespace, "things")
    status, _ = await call(service, "DELETE", "/v1/buckets/things", acme)
    assert status == 200
    await service.services.tasks.drain()
    blob = BlobInput(property="image", type="image", data={"base64": b64(PNG)})
    late = ObjectInput(blobs=[blob], idempotency_key="late")
    plan = plan_object(bucket, late, service.services.objects.limits)
    with pytest.raises(NotFound, match="Bucket 'things' not found"):
        await service.services.objects.write(namespace, bucket, plan, WriteKind.CREATE)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        database = client[settings.mongodb_database]
        for name in ("objects", "claims"):
            assert await database[name].count_documents({"bucket_id": bucket.bucket_id}) == 0
    finally:
        await client.close()


async def test_objects_over_grpc(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    request = pb.CreateObjectRequest(bucket_identifier="things", key_prefix="/g")
    blob = request.blobs.add(property="image", type=common_pb2.FIELD_TYPE_IMAGE)
    blob.data.struct_value.update({"base64": b64(PNG)})
    created = await stub.CreateObject(request, metadata=acme.metadata())
    assert created.object.status == common_pb2.TASK_STATUS_PENDING
    assert created.object.blobs[0].details.hash == digest(PNG)
    got = await stub.GetObject(
        pb.GetObjectRequest(bucket_identifier="things", object_identifier=created.object.object_id),
        metadata=acme.metadata(),
    )
    assert got.object.content_hash == created.object.content_hash
    with pytest.raises(aio.AioRpcError) as raised:
        await stub.GetObject(
            pb.GetObjectRequest(bucket_identifier="things", object_identifier="obj_nope"),
            metadata=acme.metadata(),
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
