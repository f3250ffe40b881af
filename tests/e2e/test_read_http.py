"""GET/HEAD …/blobs/{blob}/content: the bytes over HTTP, with Range (every edge), ETag,
If-None-Match (304), If-Range and Content-Disposition, through aiohttp and through curl."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket, sha256
from tests.e2e.read_support import MIB, upload

DATA = os.urandom(3000)


def _path(object_id: str, blob: str = "notes") -> str:
    return f"/v1/buckets/things/objects/{object_id}/blobs/{blob}/content"


async def _get(
    service: Service, tenant: Tenant, path: str, method: str = "GET", **headers: str
) -> tuple[int, Any, bytes]:
    async with service.http.request(method, path, headers={**tenant.headers(), **headers}) as reply:
        return reply.status, reply.headers, await reply.read()


async def test_whole_body_and_headers(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA, filename='ü "x".txt')
    status, headers, body = await _get(service, acme, _path(object_id))
    assert (status, body) == (200, DATA)
    assert headers["Content-Length"] == "3000"
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["ETag"] == f'"{sha256(DATA)}"'
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"_ _x_.txt\"; filename*=UTF-8''%C3%BC%20%22x%22.txt"
    )
    status, headers, body = await _get(service, acme, _path(object_id), method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "3000")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", slice(0, 1)),  # the first byte
        ("bytes=2999-2999", slice(2999, 3000)),  # the last byte
        ("bytes=2999-", slice(2999, 3000)),
        ("bytes=-1", slice(2999, 3000)),  # a suffix
        ("bytes=-5000", slice(0, 3000)),  # a suffix longer than the blob
        ("bytes=100-199", slice(100, 200)),
        ("bytes=2990-9999", slice(2990, 3000)),  # a last byte past the end
    ],
)
async def test_ranges(service: Service, acme: Tenant, header: str, expected: slice) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    status, headers, body = await _get(service, acme, _path(object_id), Range=header)
    assert (status, body) == (206, DATA[expected])
    last = expected.stop - 1
    assert headers["Content-Range"] == f"bytes {expected.start}-{last}/3000"
    assert headers["Content-Length"] == str(expected.stop - expected.start)


async def test_unsatisfiable_and_ignored_ranges(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    for header in ("bytes=3000-", "bytes=5000-6000", "bytes=-0"):
        status, headers, body = await _get(service, acme, _path(object_id), Range=header)
        assert status == 416, (header, body)
        assert b"RangeNotSatisfiableError" in body
        if header != "bytes=-0":
            assert headers["Content-Range"] == "bytes */3000"
    for header in ("bytes=0-1,5-6", "bytes=9-3", "pages=1-2"):  # the whole body, as RFC 9110 lets
        status, _, body = await _get(service, acme, _path(object_id), Range=header)
        assert (status, body) == (200, DATA)


async def test_empty_blob(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, b"")
    status, headers, body = await _get(service, acme, _path(object_id))
    assert (status, body, headers["Content-Length"]) == (200, b"", "0")
    status, headers, _ = await _get(service, acme, _path(object_id), Range="bytes=0-")
    assert (status, headers["Content-Range"]) == (416, "bytes */0")


async def test_conditional_requests(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    current = f'"{sha256(DATA)}"'
    status, headers, body = await _get(
        service, acme, _path(object_id), **{"If-None-Match": f'"other", {current}'}
    )
    assert (status, body, headers["ETag"]) == (304, b"", current)
    status, _, body = await _get(service, acme, _path(object_id), **{"If-None-Match": '"other"'})
    assert (status, body) == (200, DATA)
    ranged = {"Range": "bytes=0-9", "If-Range": current}
    status, _, body = await _get(service, acme, _path(object_id), **ranged)
    assert (status, body) == (206, DATA[:10])
    stale = {"Range": "bytes=0-9", "If-Range": '"stale"'}
    status, _, body = await _get(service, acme, _path(object_id), **stale)
    assert (status, body) == (200, DATA)


async def test_errors_in_the_envelope(service: Service, acme: Tenant, globex: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    status, _, body = await _get(service, globex, _path(object_id))
    assert status == 404 and b"NotFoundError" in body
    status, _, body = await _get(service, acme, _path(object_id, blob="image"))
    assert status == 404 and b"blob 'image' not found" in body
    status, _, body = await _get(service, acme, _path(object_id) + "?read_offset=3")
    assert status == 422, body


def _curl(url: str, *args: str) -> tuple[str, bytes]:
    """curl's status line and headers, and the body, as a separate HTTP client sees them."""
    done = subprocess.run(
        ["curl", "-sS", "-D", "-", "-o", "/dev/stderr", *args, url],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode("latin-1"), done.stderr


async def test_curl_sees_206_and_304(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    url = service.http_url + _path(object_id)
    auth = [arg for key, value in acme.headers().items() for arg in ("-H", f"{key}: {value}")]
    head, body = await asyncio.to_thread(_curl, url, *auth, "-r", "10-19")
    assert head.startswith("HTTP/1.1 206") and "content-range: bytes 10-19/3000" in head.lower()
    assert body == DATA[10:20]
    etag = f'"{sha256(DATA)}"'
    head, body = await asyncio.to_thread(_curl, url, *auth, "-H", f"If-None-Match: {etag}")
    assert head.startswith("HTTP/1.1 304") and body == b""


async def test_a_client_that_goes_away_mid_body(service: Service, acme: Tenant) -> None:
    """The client reads a little and drops the connection; the gateway ends the read and
    goes on serving (a next read is whole)."""
    await make_bucket(service, acme)
    data = os.urandom(12 * MIB)
    object_id = await upload(service, acme, data)
    async with service.http.get(_path(object_id), headers=acme.headers()) as reply:
        assert reply.status == 200
        assert await reply.content.readexactly(MIB) == data[:MIB]
        reply.close()
    status, _, body = await _get(service, acme, _path(object_id))
    assert (status, body) == (200, data)
