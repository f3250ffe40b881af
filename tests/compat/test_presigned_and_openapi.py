"""Issue 13: presigned download URLs where the docs put them (top-level on blobs, on list, for a
completed upload), and the new fields and routes in the OpenAPI document."""

from __future__ import annotations

import base64

import aiohttp

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, PNG, call, create, make_bucket


async def _download(url: str) -> bytes:
    async with aiohttp.ClientSession() as client, client.get(url) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.read()


async def test_presigned_urls_are_on_each_blob_on_get_and_on_list(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    blob = {
        "property": "image",
        "type": "image",
        "data": {"base64": base64.b64encode(PNG).decode()},
    }
    _, created = await create(service, acme, {"blobs": [blob]})
    path = f"/v1/buckets/things/objects/{created['object_id']}"
    _, plain = await call(service, "GET", path, acme)
    assert plain["blobs"][0]["presigned_url"] is None
    _, signed = await call(service, "GET", f"{path}?return_presigned_urls=true", acme)
    url = signed["blobs"][0]["presigned_url"]
    assert url == signed["blobs"][0]["properties"]["presigned_url"]
    assert await _download(url) == PNG
    body = {"return_presigned_urls": True}
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, body)
    assert await _download(listed["results"][0]["blobs"][0]["presigned_url"]) == PNG
    # The GET alias takes the paging parameters only, as the public docs declare it.
    status, by_get = await call(
        service, "GET", "/v1/buckets/things/objects?return_presigned_urls=true", acme
    )
    assert status == 422 and by_get["error"]["details"]["validation_errors"][0]["location"] == [
        "query",
        "return_presigned_urls",
    ]


async def test_a_completed_upload_answers_a_fresh_download_url(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    body = {"filename": "a.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    _, upload = await call(service, "POST", "/v1/buckets/things/uploads", acme, body)
    async with aiohttp.ClientSession() as client:
        headers = {"Content-Type": "application/pdf"}
        async with client.put(upload["presigned_url"], data=PDF, headers=headers) as put:
            assert put.status == 200
    path = f"/v1/buckets/things/uploads/{upload['upload_id']}"
    _, done = await call(service, "POST", f"{path}/confirm", acme, {})
    assert done["status"] == "COMPLETED"
    _, got = await call(service, "GET", f"{path}?return_presigned_urls=true", acme)
    assert got["status"] == "COMPLETED" and await _download(got["presigned_url"]) == PDF
    _, without = await call(service, "GET", path, acme)
    assert without["presigned_url"] is None


async def test_the_openapi_document_has_the_new_routes_and_fields(service: Service) -> None:
    async with service.http.get("/openapi.json") as reply:
        document = await reply.json()
    paths = document["paths"]
    for path, method in (
        ("/v1/tasks/{task_id}", "get"),
        ("/v1/tasks/{task_id}", "delete"),
        ("/v1/tasks/list", "post"),
        ("/v1/buckets", "get"),
        ("/v1/namespaces", "get"),
        ("/v1/buckets/{bucket_identifier}/objects", "get"),
        ("/v1/buckets/{bucket_identifier}/objects/aggregate", "post"),
        ("/v1/buckets/{bucket_identifier}/objects/bulk-soft-delete", "post"),
        ("/v1/namespaces/{namespace_identifier}/stats", "get"),
        ("/v1/namespaces/stats/batch", "post"),
        ("/v1/namespaces/{namespace_identifier}/ensure-indexes", "post"),
    ):
        assert method in paths[path], (path, method)
    schemas = document["components"]["schemas"]
    pagination = schemas["Pagination"]["properties"]
    assert "string" in str(pagination["next_page"]) and "integer" not in str(
        pagination["next_page"]
    )
    assert "checksum" in schemas["CreateBlobRequest"]["properties"]
    assert "presigned_url" in schemas["Blob"]["properties"]
    assert set(schemas["Task"]["required"]) >= {"task_id", "task_type", "status"}
    assert schemas["CreateBlobRequest"]["additionalProperties"] is False  # strict bodies
    assert schemas["CreateObjectRequest"]["additionalProperties"] is True  # user fields
