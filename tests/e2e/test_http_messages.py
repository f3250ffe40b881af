"""Issue 15: error messages written for an HTTP user, saying what to change in HTTP words."""

from __future__ import annotations

import base64

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, call, create, make_bucket


async def test_curl_data_binary_without_a_content_type_is_sniffed(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    headers = {**acme.headers(), "Content-Type": "application/x-www-form-urlencoded"}
    async with service.http.post(
        "/v1/buckets/things/objects/upload?property=doc&filename=f.pdf", data=PDF, headers=headers
    ) as reply:
        stored = await reply.json()
        assert reply.status == 200, stored
    assert stored["blobs"][0]["details"]["mime_type"] == "application/pdf"


async def test_a_local_path_or_a_large_file_points_at_the_streaming_route(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    for path in ("/home/me/report.pdf", "./report.pdf", "~/report.pdf", "C:\\\\report.pdf"):
        blob = {"property": "doc", "type": "pdf", "data": path}
        status, reply = await create(service, acme, {"blobs": [blob]})
        assert status == 422
        message = reply["error"]["message"]
        assert "path on your machine" in message and "/objects/upload" in message, message
    blob = {"property": "doc", "type": "pdf", "data": "report"}
    status, reply = await create(service, acme, {"blobs": [blob]})
    assert status == 422 and "to send a local file" in reply["error"]["message"]
    big = base64.b64encode(b"%PDF" + b"x" * settings.max_inline_bytes).decode()
    large = {"property": "doc", "type": "pdf", "data": {"base64": big}}
    status, reply = await create(service, acme, {"blobs": [large]})
    assert status == 413 and "--data-binary" in reply["error"]["message"]


async def test_a_list_route_asked_with_get_names_its_method(service: Service, acme: Tenant) -> None:
    status, reply = await call(service, "GET", "/v1/buckets/list", acme)
    assert status == 405 and "use POST" in reply["error"]["message"]
    assert "'list'" not in reply["error"]["message"]
