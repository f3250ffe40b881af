"""Bucket endpoints end to end: REST (the reference's shapes) and gRPC."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc import aio

from bucketd.v1 import buckets_pb2 as pb
from bucketd.v1 import buckets_pb2_grpc, common_pb2
from tests.e2e.harness import Service, Tenant
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()

PRODUCT_IMAGES = {
    "bucket_name": "product_images",
    "description": "Product images",
    "bucket_schema": {
        "properties": {
            "image": {"type": "image", "description": "Product image"},
            "title": {"type": "string", "required": True},
            "tags": {"type": "array", "items": {"type": "string"}},
        }
    },
    "unique_key": {"fields": ["title"], "default_policy": "upsert"},
    "metadata": {"team": "catalog"},
}


async def _call(
    service: Service,
    method: str,
    path: str,
    tenant: Tenant,
    body: Any = None,
    *,
    namespace: str | None = None,
) -> tuple[int, Any]:
    headers = tenant.headers(namespace)
    async with service.http.request(method, path, json=body, headers=headers) as reply:
        return reply.status, (await reply.json() if reply.status != 204 else None)


async def _bucket(service: Service, tenant: Tenant, name: str, **extra: Any) -> dict[str, Any]:
    body = {"bucket_name": name, "bucket_schema": {"properties": {"title": {"type": "string"}}}}
    status, created = await _call(service, "POST", "/v1/buckets", tenant, {**body, **extra})
    assert status == 200, created
    return dict(created)


async def test_create_answers_the_reference_shape(service: Service, acme: Tenant) -> None:
    status, bucket = await _call(service, "POST", "/v1/buckets", acme, PRODUCT_IMAGES)
    assert status == 200, bucket
    assert bucket["bucket_id"].startswith("bkt_")
    assert bucket["bucket_name"] == "product_images"
    assert bucket["description"] == "Product images"
    assert bucket["bucket_schema"]["properties"]["image"]["type"] == "image"
    assert bucket["bucket_schema"]["properties"]["title"]["required"] is True
    assert bucket["bucket_schema"]["properties"]["tags"]["items"]["type"] == "string"
    assert bucket["unique_key"] == {"fields": ["title"], "default_policy": "upsert"}
    assert bucket["metadata"] == {"team": "catalog"}
    assert bucket["object_count"] == 0 and bucket["total_size_bytes"] == 0
    assert bucket["status"] == "ACTIVE" and bucket["is_locked"] is False
    assert bucket["created_at"].endswith("Z") and bucket["last_upload_at"] is None


async def test_uppercase_types_are_accepted(service: Service, acme: Tenant) -> None:
    schema = {"properties": {"doc": {"type": "PDF"}, "n": {"type": "Integer"}}}
    created = await _bucket(service, acme, "docs", bucket_schema=schema)
    assert created["bucket_schema"]["properties"]["doc"]["type"] == "pdf"
    assert created["bucket_schema"]["properties"]["n"]["type"] == "integer"


async def test_get_by_id_or_name(service: Service, acme: Tenant) -> None:
    created = await _bucket(service, acme, "b1")
    for identifier in (created["bucket_id"], "b1"):
        status, got = await _call(service, "GET", f"/v1/buckets/{identifier}", acme)
        assert status == 200 and got["bucket_id"] == created["bucket_id"]
    status, missing = await _call(service, "GET", "/v1/buckets/nope", acme)
    assert status == 404
    assert missing["error"] == {
        "message": "Bucket 'nope' not found in namespace 'default'",
        "type": "NotFoundError",
        "details": {"reason": "NOT_FOUND", "resource": "bucket", "id": "nope"},
    }


async def test_duplicate_name_is_409(service: Service, acme: Tenant) -> None:
    await _bucket(service, acme, "same")
    status, body = await _call(
        service,
        "POST",
        "/v1/buckets",
        acme,
        {"bucket_name": "same", "bucket_schema": {"properties": {"x": {"type": "string"}}}},
    )
    assert status == 409
    assert body["error"]["message"] == "Bucket 'same' already exists in this namespace"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"bucket_name": "", "bucket_schema": {"properties": {"t": {"type": "string"}}}},
            "bucket_name must be 1 to 128 characters",
        ),
        (
            {
                "bucket_name": "has space",
                "bucket_schema": {"properties": {"t": {"type": "string"}}},
            },
            "bucket_name may contain only",
        ),
        ({"bucket_name": "b"}, "bucket_schema: field required"),
        (
            {"bucket_name": "b", "bucket_schema": {"properties": {"t": {"type": "gif"}}}},
            "bucket_schema.properties.t.type",
        ),
        (
            {"bucket_name": "b", "bucket_schema": {"properties": {"t": {}}}},
            "bucket_schema.properties.t.type: field required",
        ),
        (
            {"bucket_name": "b", "bucket_schema": {"properties": {"9x": {"type": "string"}}}},
            "bucket_schema.properties.9x",
        ),
        (
            {
                "bucket_name": "b",
                "bucket_schema": {
                    "properties": {"t": {"type": "string", "items": {"type": "string"}}}
                },
            },
            "items: is allowed only on fields of type array",
        ),
        (
            {
                "bucket_name": "b",
                "bucket_schema": {"properties": {"t": {"type": "string"}}},
                "unique_key": {"fields": ["missing"]},
            },
            "unique_key.fields[0]: 'missing' is not a field",
        ),
        (
            {
                "bucket_name": "b",
                "bucket_schema": {"properties": {"i": {"type": "image"}}},
                "unique_key": {"fields": ["i"]},
            },
            "unique keys take scalar fields only",
        ),
        (
            {
                "bucket_name": "b",
                "bucket_schema": {"properties": {"t": {"type": "string"}}},
                "unique_key": {"fields": []},
            },
            "unique_key.fields: name at least one",
        ),
    ],
)
async def test_invalid_buckets_are_422_naming_the_field(
    service: Service, acme: Tenant, body: dict[str, Any], fragment: str
) -> None:
    status, reply = await _call(service, "POST", "/v1/buckets", acme, body)
    assert status == 422, reply
    assert fragment in reply["error"]["message"]
    assert reply["error"]["type"] == "ValidationError"


async def test_update_and_patch(service: Service, acme: Tenant) -> None:
    created = await _bucket(service, acme, "old", description="d1", metadata={"a": 1})
    status, put = await _call(
        service, "PUT", "/v1/buckets/old", acme, {"bucket_name": "new", "description": "d2"}
    )
    assert status == 200
    assert (put["bucket_name"], put["description"], put["metadata"]) == ("new", "d2", {"a": 1})
    assert put["bucket_schema"] == created["bucket_schema"]  # unchanged unless sent
    status, patched = await _call(
        service, "PATCH", f"/v1/buckets/{created['bucket_id']}", acme, {"metadata": {"b": 2}}
    )
    assert status == 200
    assert patched["metadata"] == {"b": 2} and patched["bucket_name"] == "new"
    assert patched["updated_at"] >= created["updated_at"]
    await _bucket(service, acme, "taken")
    status, clash = await _call(service, "PATCH", "/v1/buckets/new", acme, {"bucket_name": "taken"})
    assert status == 409, clash
    status, bad = await _call(service, "PATCH", "/v1/buckets/new", acme, {"bucket_name": "a b"})
    assert status == 422 and "bucket_name" in bad["error"]["message"]


async def test_schema_and_unique_key_changes(service: Service, acme: Tenant) -> None:
    """A schema may grow; what stored objects may not fit needs force_schema_break. Only the
    unique key's default_policy may change."""
    await _call(service, "POST", "/v1/buckets", acme, PRODUCT_IMAGES)
    path = "/v1/buckets/product_images"
    properties = PRODUCT_IMAGES["bucket_schema"]["properties"]  # type: ignore[index]
    grown = {"properties": {**properties, "price": {"type": "number"}}}
    status, patched = await _call(service, "PATCH", path, acme, {"bucket_schema": grown})
    assert status == 200 and patched["bucket_schema"]["properties"]["price"]["type"] == "number"
    retyped = {"properties": {**properties, "price": {"type": "string"}}}
    for breaking, why in (
        (retyped, "'price' changes type number -> string"),
        ({"properties": {"title": properties["title"]}}, "'image' is removed"),
        (
            {"properties": {**grown["properties"], "sku": {"type": "string", "required": True}}},
            "'sku' is new and required",
        ),
    ):
        status, refused = await _call(service, "PUT", path, acme, {"bucket_schema": breaking})
        assert status == 422 and why in refused["error"]["message"], refused
        assert "force_schema_break" in refused["error"]["message"]
    status, forced = await _call(
        service, "PUT", f"{path}?force_schema_break=true", acme, {"bucket_schema": retyped}
    )
    assert status == 200 and forced["bucket_schema"]["properties"]["price"]["type"] == "string"
    title_only = {"properties": {"image": properties["image"], "tags": properties["tags"]}}
    status, keyless = await _call(
        service, "PUT", f"{path}?force_schema_break=true", acme, {"bucket_schema": title_only}
    )
    assert status == 422 and "unique_key.fields[0]" in keyless["error"]["message"]

    key = {"fields": ["title"], "default_policy": "insert"}
    status, changed = await _call(service, "PATCH", path, acme, {"unique_key": key})
    assert status == 200 and changed["unique_key"] == key
    status, cleared = await _call(
        service, "PATCH", path, acme, {"unique_key": {"fields": ["title"], "default_policy": None}}
    )
    assert status == 200 and cleared["unique_key"]["default_policy"] is None
    other = {"fields": ["price"], "default_policy": "insert"}
    status, refused = await _call(service, "PATCH", path, acme, {"unique_key": other})
    assert (
        status == 422
        and "must repeat the bucket's unique key fields" in refused["error"]["message"]
    )
    await _bucket(service, acme, "keyless")
    status, refused = await _call(
        service, "PATCH", "/v1/buckets/keyless", acme, {"unique_key": key}
    )
    assert status == 422 and "created without a unique key" in refused["error"]["message"]


async def test_delete_answers_the_task_then_404(service: Service, acme: Tenant) -> None:
    created = await _bucket(service, acme, "doomed")
    status, task = await _call(service, "DELETE", "/v1/buckets/doomed", acme)
    assert status == 200
    assert task["task_id"].startswith("task_")
    assert task["bucket_id"] == created["bucket_id"]
    assert task["bucket_name"] == "doomed"
    assert task["object_count"] == 0
    assert task["status"] == "PENDING" and task["task"]["task_type"] == "api_buckets_delete"
    assert (await _call(service, "GET", "/v1/buckets/doomed", acme))[0] == 404
    assert (await _call(service, "DELETE", "/v1/buckets/doomed", acme))[0] == 404


async def test_list_search_filters_sort_and_paging(service: Service, acme: Tenant) -> None:
    for name, description in (
        ("cats", "Cute animals"),
        ("dogs", "Loyal animals"),
        ("cars", "Fast"),
    ):
        await _bucket(service, acme, name, description=description)
    status, found = await _call(service, "POST", "/v1/buckets/list", acme, {"search": "ANIMALS"})
    assert status == 200
    assert {b["bucket_name"] for b in found["results"]} == {"cats", "dogs"}
    assert found["total_count"] == 2

    _, shorthand = await _call(
        service, "POST", "/v1/buckets/list", acme, {"filters": {"bucket_name": "cars"}}
    )
    assert [b["bucket_name"] for b in shorthand["results"]] == ["cars"]

    logical = {
        "OR": [
            {"field": "bucket_name", "operator": "starts_with", "value": "ca"},
            {"field": "description", "operator": "contains", "value": "loyal"},
        ],
        "NOT": [{"field": "bucket_name", "operator": "eq", "value": "cats"}],
    }
    _, combined = await _call(service, "POST", "/v1/buckets/list", acme, {"filters": logical})
    assert {b["bucket_name"] for b in combined["results"]} == {"cars", "dogs"}

    _, first = await _call(
        service,
        "POST",
        "/v1/buckets/list",
        acme,
        {"sort": {"field": "bucket_name", "direction": "asc"}, "limit": 2},
    )
    assert [b["bucket_name"] for b in first["results"]] == ["cars", "cats"]
    assert first["total_count"] == 3
    assert first["pagination"]["total_pages"] is None and first["pagination"]["next_page"] == "2"
    assert first["stats"] == {
        "total_objects": 0,
        "total_size_bytes": 0,
        "avg_objects_per_bucket": 0.0,
        "avg_size_per_bucket": 0.0,
    }
    _, second = await _call(
        service,
        "POST",
        "/v1/buckets/list",
        acme,
        {"sort": {"field": "bucket_name", "direction": "asc"}, "limit": 2, "offset": 2},
    )
    assert [b["bucket_name"] for b in second["results"]] == ["dogs"]
    assert second["pagination"]["has_more"] is False


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"filters": {"secret_field": "x"}}, "cannot filter on field 'secret_field'"),
        (
            {"filters": {"AND": [{"field": "bucket_name", "operator": "like", "value": "x"}]}},
            "unknown operator 'like'",
        ),
        ({"sort": {"field": "bucket_schema"}}, "is not sortable"),
        ({"limit": 1001}, "limit must be between 1 and 1000"),
        ({"offset": -1}, "offset must be 0 to 100000"),
    ],
)
async def test_list_refuses_bad_queries(
    service: Service, acme: Tenant, body: dict[str, Any], fragment: str
) -> None:
    status, reply = await _call(service, "POST", "/v1/buckets/list", acme, body)
    assert status == 422
    assert fragment in reply["error"]["message"]


async def test_buckets_are_isolated_between_organizations(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    mine = await _bucket(service, acme, "private")
    for identifier in (mine["bucket_id"], "private"):
        path = f"/v1/buckets/{identifier}"
        for method, body in (("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)):
            status, reply = await _call(service, method, path, globex, body)
            assert status == 404, (method, identifier)
            # the caller's own namespace is named, whoever's bucket it is: the same answer
            assert reply["error"]["message"] == (
                f"Bucket '{identifier}' not found in namespace 'default'"
            )
    _, theirs = await _call(service, "POST", "/v1/buckets/list", globex, {})
    assert theirs["total_count"] == 0
    _, still = await _call(service, "GET", "/v1/buckets/private", acme)
    assert still["description"] is None
    # Naming acme's namespace id from globex does not reach it either.
    _, namespace = await _call(service, "GET", "/v1/namespaces/default", acme)
    status, _ = await _call(
        service, "GET", "/v1/buckets/private", globex, namespace=namespace["namespace_id"]
    )
    assert status == 404


async def test_buckets_are_isolated_between_namespaces(service: Service, acme: Tenant) -> None:
    await _call(service, "POST", "/v1/namespaces", acme, {"namespace_name": "staging"})
    await _bucket(service, acme, "shared-name")
    status, _ = await _call(service, "GET", "/v1/buckets/shared-name", acme, namespace="staging")
    assert status == 404
    status, _ = await _call(
        service,
        "POST",
        "/v1/buckets",
        acme,
        {"bucket_name": "shared-name", "bucket_schema": {"properties": {"t": {"type": "text"}}}},
        namespace="staging",
    )
    assert status == 200  # the same name in another namespace is fine
    _, namespace = await _call(service, "GET", "/v1/namespaces/default", acme)
    assert namespace["bucket_count"] == 1


async def test_bucket_lifecycle_over_grpc(service: Service, acme: Tenant) -> None:
    stub = buckets_pb2_grpc.BucketServiceStub(service.channel)
    metadata = acme.metadata()
    schema = pb.BucketSchema()
    schema.properties["title"].type = common_pb2.FIELD_TYPE_STRING
    created = await stub.CreateBucket(
        pb.CreateBucketRequest(bucket_name="g", bucket_schema=schema), metadata=metadata
    )
    bucket_id = created.bucket.bucket_id
    assert created.bucket.status == common_pb2.TASK_STATUS_ACTIVE
    got = await stub.GetBucket(pb.GetBucketRequest(bucket_identifier="g"), metadata=metadata)
    assert got.bucket.bucket_id == bucket_id
    listed = await stub.ListBuckets(pb.ListBucketsRequest(), metadata=metadata)
    assert [b.bucket_id for b in listed.results] == [bucket_id]
    updated = await stub.UpdateBucket(
        pb.UpdateBucketRequest(bucket_identifier=bucket_id, description="u"), metadata=metadata
    )
    assert updated.bucket.description == "u"
    patched = await stub.PatchBucket(
        pb.PatchBucketRequest(bucket_identifier=bucket_id, bucket_name="g2"), metadata=metadata
    )
    assert patched.bucket.bucket_name == "g2"
    deleted = await stub.DeleteBucket(
        pb.DeleteBucketRequest(bucket_identifier="g2"), metadata=metadata
    )
    assert deleted.bucket_id == bucket_id
    for call, code in (
        (
            stub.GetBucket(pb.GetBucketRequest(bucket_identifier="g2"), metadata=metadata),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.CreateBucket(pb.CreateBucketRequest(bucket_name="x"), metadata=metadata),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.GetBucket(pb.GetBucketRequest(bucket_identifier="g2")),
            grpc.StatusCode.UNAUTHENTICATED,
        ),
    ):
        with pytest.raises(aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == code
