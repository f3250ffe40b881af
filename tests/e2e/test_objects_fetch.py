"""URL sources: mirrored through the SSRF guard when the allowlist lets the test server in."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import (
    PDF,
    PNG,
    create,
    digest,
    file_server,
    make_bucket,
    s3_bytes,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, fetch_allowlist=("127.0.0.1/32",), max_fetch_bytes=1024 * 1024
    )


async def test_allowlisted_url_is_mirrored(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    async with file_server({"red.png": PNG, "spec.pdf": PDF}) as base:
        body = {
            "blobs": [
                {"property": "image", "type": "image", "data": f"{base}/red.png"},
                {"property": "doc", "type": "pdf", "data": {"url": f"{base}/redirect/spec.pdf"}},
            ]
        }
        status, created = await create(service, acme, body)
    assert status == 200, created
    image, doc = created["blobs"]
    assert image["details"] == {
        "filename": "red.png",
        "size_bytes": len(PNG),
        "mime_type": "image/png",
        "hash": digest(PNG),
    }
    assert doc["details"]["hash"] == digest(PDF) and doc["details"]["filename"] == "spec.pdf"
    assert await s3_bytes(settings, image["properties"]["url"]) == PNG
    assert await s3_bytes(settings, doc["properties"]["url"]) == PDF


async def test_presigned_download_urls_work(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    async with file_server({"red.png": PNG}) as base:
        _, created = await create(
            service,
            acme,
            {"blobs": [{"property": "image", "type": "image", "data": f"{base}/red.png"}]},
        )
    path = f"/v1/buckets/things/objects/{created['object_id']}?return_presigned_urls=true"
    async with service.http.get(path, headers=acme.headers()) as reply:
        got = await reply.json()
    url = got["blobs"][0]["properties"]["presigned_url"]
    async with aiohttp.ClientSession() as client, client.get(url) as download:
        assert download.status == 200
        assert await download.read() == PNG


async def test_missing_and_oversized_urls_fail_clearly(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    async with file_server({"big.pdf": b"%PDF-" + b"0" * (1024 * 1024 + 1)}) as base:
        status, missing = await create(
            service,
            acme,
            {"blobs": [{"property": "doc", "type": "pdf", "data": f"{base}/none.pdf"}]},
        )
        assert status == 422 and "answered HTTP 404" in missing["error"]["message"]
        status, big = await create(
            service,
            acme,
            {"blobs": [{"property": "doc", "type": "pdf", "data": f"{base}/big.pdf"}]},
        )
        assert status == 413, big
        assert "larger than the fetch limit of 1048576 bytes" in big["error"]["message"]


async def test_fetched_type_must_fit_the_property(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    async with file_server({"red.png": PNG}) as base:
        status, reply = await create(
            service,
            acme,
            {"blobs": [{"property": "doc", "type": "pdf", "data": f"{base}/red.png"}]},
        )
    assert status == 422
    assert "image/png does not fit a pdf property" in reply["error"]["message"]
