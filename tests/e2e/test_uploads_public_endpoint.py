"""Presigned URLs are signed for S3_PUBLIC_ENDPOINT_URL, the endpoint that clients reach."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, call, make_bucket


@pytest.fixture
def settings(settings: Settings) -> Settings:
    assert settings.s3_endpoint_url
    public = settings.s3_endpoint_url.replace("127.0.0.1", "localhost")
    return dataclasses.replace(settings, s3_public_endpoint_url=public)


async def test_presigned_url_uses_the_public_endpoint(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    body = {"filename": "a.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    _, upload = await call(service, "POST", "/v1/buckets/things/uploads", acme, body)
    assert upload["presigned_url"].startswith("http://localhost:")
    async with (
        aiohttp.ClientSession() as client,
        client.put(
            upload["presigned_url"], data=PDF, headers={"Content-Type": "application/pdf"}
        ) as reply,
    ):
        assert reply.status == 200
    status, confirmed = await call(
        service, "POST", f"/v1/buckets/things/uploads/{upload['upload_id']}/confirm", acme, {}
    )
    assert status == 200 and confirmed["status"] == "COMPLETED"
