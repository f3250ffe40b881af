"""Issue 13, validation as the public docs answer it: 422 ValidationError with details naming
every field at fault (undeclared keys refused, listing the accepted ones), 400 only for
malformed JSON and for rules that need stored state, 422 for a batch where every object failed."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, create, make_bucket
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()


async def test_missing_and_mistyped_fields_are_422_naming_each(
    service: Service, acme: Tenant
) -> None:
    status, reply = await call(
        service,
        "POST",
        "/v1/buckets",
        acme,
        {"bucket_schema": {"properties": {"t": {"type": "strng"}}}},
    )
    assert status == 422 and reply["error"]["type"] == "ValidationError"
    errors = reply["error"]["details"]["validation_errors"]
    assert {(e["type"], tuple(e["location"])) for e in errors} == {
        ("enum", ("body", "bucket_schema", "properties", "t", "type")),
    }
    status, reply = await call(service, "POST", "/v1/buckets", acme, {})
    assert status == 422
    locations = [e["location"] for e in reply["error"]["details"]["validation_errors"]]
    assert ["body", "bucket_name"] in locations and ["body", "bucket_schema"] in locations

    status, reply = await call(
        service,
        "POST",
        "/v1/buckets",
        acme,
        {"bucket_name": "b", "bucket_schema": {"properties": {}}},
    )
    assert status == 422  # a rule the server checks names its field the same way
    (error,) = reply["error"]["details"]["validation_errors"]
    assert error["location"] == ["body", "bucket_schema", "properties"]


async def test_undeclared_keys_are_refused_except_object_user_fields(
    service: Service, acme: Tenant
) -> None:
    status, reply = await call(
        service,
        "POST",
        "/v1/buckets",
        acme,
        {
            "bucket_nmae": "typo",
            "bucket_name": "b",
            "bucket_schema": {"properties": {"t": {"type": "string"}}},
        },
    )
    assert status == 422
    (error,) = reply["error"]["details"]["validation_errors"]
    assert error["type"] == "extra_forbidden" and error["location"] == ["body", "bucket_nmae"]
    assert (
        "accepted: bucket_name, description, bucket_schema, unique_key, metadata"
        in error["message"]
    )

    await make_bucket(service, acme)
    status, created = await create(service, acme, {"season": "spring", "auto_submit": [1]})
    assert status == 200 and created["season"] == "spring" and created["auto_submit"] == [1]
    path = f"/v1/buckets/things/objects/{created['object_id']}"
    status, patched = await call(service, "PATCH", path, acme, {"blob": "kept, not dropped"})
    assert status == 200 and patched["blob"] == "kept, not dropped"
    status, reply = await call(
        service, "PUT", path, acme, {"blobs": [{"property": "title", "typ": "string", "data": "x"}]}
    )
    assert status == 422
    fields = [e["location"] for e in reply["error"]["details"]["validation_errors"]]
    assert ["body", "blobs", 0, "typ"] in fields and ["body", "blobs", 0, "type"] in fields
    # documented keys bucketd gives no effect are accepted
    status, _ = await call(
        service,
        "POST",
        "/v1/namespaces",
        acme,
        {
            "namespace_name": "with-extractors",
            "feature_extractors": [{"feature_extractor_name": "x"}],
        },
    )
    assert status == 200
    status, _ = await call(service, "POST", "/v1/buckets/list", acme, {"case_sensitive": True})
    assert status == 200
    # include_total is a query parameter of the list calls, not a key of their bodies
    body = {"case_sensitive": True, "include_total": True}
    status, refused = await call(service, "POST", "/v1/buckets/list", acme, body)
    assert status == 422 and "'include_total' is not a field here" in refused["error"]["message"]


async def test_malformed_json_and_stored_state_rules_stay_400(
    service: Service, acme: Tenant
) -> None:
    async with service.http.post(
        "/v1/buckets",
        data=b'{"bucket_name": ',
        headers={**acme.headers(), "Content-Type": "application/json"},
    ) as reply:
        assert reply.status == 400 and (await reply.json())["error"]["type"] == "BadRequestError"
    await make_bucket(service, acme)
    _, upload = await call(
        service,
        "POST",
        "/v1/buckets/things/uploads",
        acme,
        {"filename": "a.pdf", "content_type": "application/pdf", "blob_property": "doc"},
    )
    status, reply = await call(
        service, "POST", f"/v1/buckets/things/uploads/{upload['upload_id']}/confirm", acme, {}
    )
    assert status == 400 and reply["error"]["type"] == "BadRequestError"  # nothing was PUT


async def test_a_batch_where_every_object_failed_is_422(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    bad = {"property": "nope", "type": "image", "data": "https://example.com/a.png"}
    body = {"objects": [{"blobs": [bad]}, {"status": "mine"}]}
    status, reply = await call(service, "POST", "/v1/buckets/things/objects/batch", acme, body)
    assert status == 422 and reply["error"]["type"] == "ValidationError"
    errors = reply["error"]["details"]["validation_errors"]
    assert [e["location"] for e in errors] == [
        ["body", "objects", 0, "blobs", 0, "property"],
        ["body", "objects", 1, "status"],
    ]
    good = {"blobs": [{"property": "title", "type": "string", "data": "x"}]}
    status, reply = await call(
        service,
        "POST",
        "/v1/buckets/things/objects/batch",
        acme,
        {"objects": [good, {"status": "x"}]},
    )
    assert status == 200 and (reply["succeeded_count"], reply["failed_count"]) == (1, 1)
    status, _ = await call(
        service, "POST", "/v1/buckets/nope/objects/batch", acme, {"objects": [good]}
    )
    assert status == 404
