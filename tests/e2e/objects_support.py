"""Helpers of the object tests: a bucket with every kind of property, S3 reads, a file server."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from aiohttp import web

from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import open_s3
from tests.e2e.harness import Service, Tenant

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCHEMA = {
    "properties": {
        "image": {"type": "image"},
        "doc": {"type": "pdf"},
        "notes": {"type": "text"},
        "title": {"type": "string"},
        "count": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {"type": "object"},
    }
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    """How answers label a blob's hash (details.hash, skipped_blobs[].hash)."""
    return f"sha256:{sha256(data)}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def call(
    service: Service, method: str, path: str, tenant: Tenant, body: Any = None
) -> tuple[int, Any]:
    async with service.http.request(method, path, json=body, headers=tenant.headers()) as reply:
        return reply.status, (await reply.json() if reply.status != 204 else None)


async def make_bucket(
    service: Service, tenant: Tenant, name: str = "things", **extra: Any
) -> dict[str, Any]:
    status, bucket = await call(
        service,
        "POST",
        "/v1/buckets",
        tenant,
        {"bucket_name": name, "bucket_schema": SCHEMA, **extra},
    )
    assert status == 200, bucket
    return dict(bucket)


async def create(
    service: Service, tenant: Tenant, body: dict[str, Any], bucket: str = "things", query: str = ""
) -> tuple[int, Any]:
    return await call(service, "POST", f"/v1/buckets/{bucket}/objects{query}", tenant, body)


async def s3_bytes(settings: Settings, url: str) -> bytes:
    """The bytes behind an s3://bucket/key URL, read straight from the S3 server."""
    parsed = urlparse(url)
    async with open_s3(settings) as s3:
        reply = await s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        async with reply["Body"] as body:
            data: bytes = await body.read()
            return data


async def s3_keys(settings: Settings, prefix: str = "") -> list[str]:
    async with open_s3(settings) as s3:
        reply = await s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix)
        return [item["Key"] for item in reply.get("Contents", [])]


async def multipart_uploads(settings: Settings) -> list[str]:
    """The keys of the multipart uploads still open in the storage bucket."""
    async with open_s3(settings) as s3:
        reply = await s3.list_multipart_uploads(Bucket=settings.s3_bucket)
        return [upload["Key"] for upload in reply.get("Uploads", [])]


@asynccontextmanager
async def file_server(files: dict[str, bytes]) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 serving `files`; /redirect/<name> redirects to /<name>."""

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in files:
            raise web.HTTPNotFound()
        return web.Response(body=files[name], content_type="application/octet-stream")

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"/{request.match_info['name']}")

    app = web.Application()
    app.router.add_get("/redirect/{name}", redirect)
    app.router.add_get("/{name}", serve)
    async with serving(app) as base:
        yield base


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """`app` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
