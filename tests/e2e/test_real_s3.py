"""What only a real S3 makes meaningful (issue 22), against Ceph's RADOS Gateway: S3 itself refuses
a presigned PUT whose signature, key, secret, expiry or signed Content-Type is wrong, and the
confirm then answers a clear 400 and creates nothing; a part under 5 MiB that is not the last is
refused; bucketd's own PUTs carry a Content-MD5 that S3 checks.

moto accepts all of these (it checks no signature and no digest), so these tests need the
session's S3 to be a real one: RGW when Debian's Ceph packages are installed (`.ci/run` installs
them), or the S3_ENDPOINT_URL given.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
import google_crc32c
import pytest
from aiohttp import web

from bucketd.server.domain.writes import Part
from bucketd.server.errors import StorageUnavailable
from bucketd.server.services.part_hashing import s3_checksum
from bucketd.server.settings import Settings
from bucketd.server.storage.blobs import S3BlobStorage
from bucketd.server.storage.s3 import ensure_bucket, open_s3
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, call, make_bucket, serving
from tests.s3_choice import s3_kind

pytestmark = pytest.mark.skipif(
    s3_kind() == "moto", reason="needs a real S3: moto accepts what these tests check"
)
BASE = "/v1/buckets/things/uploads"


async def _upload(service: Service, tenant: Tenant) -> dict[str, Any]:
    body = {"filename": "spec.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    status, upload = await call(service, "POST", BASE, tenant, body)
    assert status == 200, upload
    return dict(upload)


def _tampered(url: str) -> str:
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
    return url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))


def _other_key(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path + "-other"))


async def _signed_with(settings: Settings, url: str, *, secret: str, expires: int) -> str:
    """A presigned PUT for the same key, signed with `secret` and lasting `expires` seconds."""
    parts = urllib.parse.urlsplit(url)
    bucket, key = parts.path.lstrip("/").split("/", 1)
    async with open_s3(replace(settings, aws_secret_access_key=secret)) as s3:
        signed: str = await s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ContentType": "application/pdf"},
            ExpiresIn=expires,
        )
    return signed


async def _put(url: str, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as client,
        client.put(url, data=PDF, headers=headers) as reply,
    ):
        return reply.status


PDF_TYPE = {"Content-Type": "application/pdf"}


@pytest.mark.parametrize(
    "spoil", ["tampered signature", "another key", "wrong secret", "expired", "no content type"]
)
async def test_s3_refuses_a_spoiled_presigned_put_and_the_confirm_says_so(
    service: Service, acme: Tenant, settings: Settings, spoil: str
) -> None:
    await make_bucket(service, acme)
    upload = await _upload(service, acme)
    url, headers = upload["presigned_url"], dict(PDF_TYPE)
    if spoil == "tampered signature":
        url = _tampered(url)
    elif spoil == "another key":
        url = _other_key(url)
    elif spoil == "wrong secret":
        url = await _signed_with(settings, url, secret="not-the-secret", expires=60)
    elif spoil == "expired":
        url = await _signed_with(
            settings, url, secret=settings.aws_secret_access_key or "", expires=1
        )
        await asyncio.sleep(2.1)  # the subject is elapsed time: S3 counts it, not bucketd
    else:
        headers = {}
    assert await _put(url, headers) == 403
    status, reply = await call(service, "POST", f"{BASE}/{upload['upload_id']}/confirm", acme, {})
    assert status == 400 and "Nothing was uploaded" in reply["error"]["message"]
    _, kept = await call(service, "GET", f"{BASE}/{upload['upload_id']}", acme)
    assert kept["status"] == "PENDING"
    _, listed = await call(service, "GET", "/v1/buckets/things/objects", acme)
    assert listed["results"] == []
    assert await _put(upload["presigned_url"], PDF_TYPE) == 200  # the real URL still works


def _checksum(pieces: list[bytes]) -> str:
    """A part's ChecksumCRC32C, from google-crc32c (not the implementation bucketd uses)."""
    return s3_checksum(google_crc32c.value(b"".join(pieces)))


SLOW_DOWN = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    "<Message>Please reduce your request rate.</Message></Error>"
)


@asynccontextmanager
async def _recording_proxy(
    target: str, seen: list[dict[str, Any]], *, fail_parts: int = 0
) -> AsyncIterator[str]:
    """An HTTP proxy to `target` that records each request's method, headers and body; it
    answers the first `fail_parts` part uploads itself with S3's 503 SlowDown."""

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        part = "partNumber" in request.query
        seen.append(
            {"method": request.method, "part": part, "headers": dict(request.headers), "body": body}
        )
        if part and sum(r["part"] for r in seen) <= fail_parts:
            return web.Response(status=503, text=SLOW_DOWN, content_type="application/xml")
        headers = dict(request.headers)  # Host included: the signature covers it
        async with (
            aiohttp.ClientSession(auto_decompress=False) as client,
            client.request(
                request.method, f"{target}{request.path_qs}", data=body, headers=headers
            ) as reply,
        ):
            return web.Response(status=reply.status, body=await reply.read(), headers=reply.headers)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", forward)
    async with serving(app) as url:
        yield url


@asynccontextmanager
async def _proxied_storage(
    settings: Settings, seen: list[dict[str, Any]], *, fail_parts: int = 0
) -> AsyncIterator[S3BlobStorage]:
    """bucketd's S3 storage, its requests going through the recording proxy."""
    assert settings.s3_endpoint_url
    async with (
        _recording_proxy(settings.s3_endpoint_url, seen, fail_parts=fail_parts) as proxy,
        open_s3(replace(settings, s3_endpoint_url=proxy)) as s3,
    ):
        await ensure_bucket(s3, settings.s3_bucket, region=settings.aws_region)
        yield S3BlobStorage(s3, settings.s3_bucket)


async def _one_part(storage: S3BlobStorage, key: str, pieces: list[bytes]) -> tuple[Part, bytes]:
    """`pieces` uploaded as a multipart upload's only part: the part, and the bytes S3 keeps."""
    upload = await storage.start_multipart(key, mime_type="application/octet-stream")
    part = await storage.upload_part(key, upload, 1, pieces, crc32c=_checksum(pieces))
    await storage.complete_multipart(key, upload, [part])
    return part, b"".join([chunk async for chunk in storage.read(key)])


async def test_bucketds_puts_carry_a_content_md5_that_s3_checks(settings: Settings) -> None:
    seen: list[dict[str, Any]] = []
    async with _proxied_storage(settings, seen) as storage:
        await storage.put("checked", b"hello, S3", mime_type="text/plain")
    (put,) = [r for r in seen if r["method"] == "PUT" and r["body"]]
    expected = base64.b64encode(hashlib.md5(b"hello, S3").digest()).decode()
    assert put["headers"]["Content-MD5"] == expected  # and S3 answered 200: it checked it
    async with open_s3(settings) as s3:
        wrong = base64.b64encode(hashlib.md5(b"other bytes").digest()).decode()
        with pytest.raises(Exception, match="BadDigest"):
            await s3.put_object(
                Bucket=settings.s3_bucket, Key="spoiled", Body=b"hello, S3", ContentMD5=wrong
            )


async def test_parts_are_unsigned_and_carry_their_crc32c(settings: Settings) -> None:
    """No second SHA-256 of every byte for SigV4: the payload is UNSIGNED-PAYLOAD and each part
    carries its CRC32C (checked by AWS and MinIO; Ceph 16 accepts and ignores it, moto too), the
    multipart upload declares the algorithm and its completion lists each part's."""
    seen: list[dict[str, Any]] = []
    data = os.urandom(5 * 1024 * 1024 + 7)
    pieces = [data[:1024], data[1024 : 3 * 1024 * 1024 + 5], data[3 * 1024 * 1024 + 5 :]]
    async with _proxied_storage(settings, seen) as storage:
        part, stored = await _one_part(storage, "crc", pieces)
    assert stored == data and part.size == len(data)
    (sent,) = [r for r in seen if r["method"] == "PUT" and r["body"] == data]
    headers = {name.lower(): value for name, value in sent["headers"].items()}
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert headers["content-length"] == str(len(data))
    assert headers["expect"] == "100-continue"  # as boto3 sends files: headers go on their own
    assert headers["x-amz-checksum-crc32c"] == _checksum([data])
    crc = int.from_bytes(base64.b64decode(_checksum(pieces)), "big")
    assert crc == google_crc32c.value(data)
    (created,) = [r for r in seen if r["method"] == "POST" and not r["body"]]
    assert {k.lower(): v for k, v in created["headers"].items()}["x-amz-checksum-algorithm"] == (
        "CRC32C"
    )
    (completed,) = [r for r in seen if r["method"] == "POST" and r["body"]]
    assert _checksum([data]).encode() in completed["body"]


async def test_a_part_that_s3_fails_is_sent_again_whole(settings: Settings) -> None:
    """botocore retries a part S3 answered 503 (SlowDown): it rewinds the body and aiohttp
    sends every piece again."""
    seen: list[dict[str, Any]] = []
    pieces = [os.urandom(1024 * 1024) for _ in range(3)] + [b"end"]
    async with _proxied_storage(settings, seen, fail_parts=1) as storage:
        _, stored = await _one_part(storage, "again", pieces)
    assert stored == b"".join(pieces)
    assert [r["body"] for r in seen if r["part"]] == [stored, stored]


async def test_a_small_part_that_is_not_the_last_is_refused(settings: Settings) -> None:
    async with open_s3(settings) as s3:
        await ensure_bucket(s3, settings.s3_bucket, region=settings.aws_region)
        storage = S3BlobStorage(s3, settings.s3_bucket)
        upload = await storage.start_multipart("small", mime_type="application/octet-stream")
        parts = [
            await storage.upload_part("small", upload, number, [b"x" * 1024]) for number in (1, 2)
        ]
        with pytest.raises(StorageUnavailable, match="EntityTooSmall"):
            await storage.complete_multipart("small", upload, parts)
        await storage.abort_multipart("small", upload)
