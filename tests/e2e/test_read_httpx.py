"""The content route through httpx (a client bucketd's own code does not use): 206 at every edge
of a range, 416 past the end and on an empty blob, 304 for a current ETag, HEAD."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket, sha256
from tests.e2e.read_support import upload

DATA = os.urandom(3000)


@pytest.fixture
async def http(service: Service, acme: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.http_url, headers=acme.headers()) as client:
        yield client


def _path(object_id: str) -> str:
    return f"/v1/buckets/things/objects/{object_id}/blobs/0/content"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", slice(0, 1)),  # the first byte
        ("bytes=2999-2999", slice(2999, 3000)),  # the last byte
        ("bytes=2999-", slice(2999, 3000)),  # from the last byte to the end
        ("bytes=-1", slice(2999, 3000)),  # a suffix of one
        ("bytes=-3000", slice(0, 3000)),  # a suffix of the whole blob
        ("bytes=0-2999", slice(0, 3000)),  # the whole blob, as a range
        ("bytes=1500-99999", slice(1500, 3000)),  # a last byte past the end
    ],
)
async def test_206_at_the_edges(
    service: Service, acme: Tenant, http: httpx.AsyncClient, header: str, expected: slice
) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    reply = await http.get(_path(object_id), headers={"Range": header})
    assert reply.status_code == 206, reply.text
    assert reply.content == DATA[expected]
    assert reply.headers["Content-Range"] == (
        f"bytes {expected.start}-{expected.stop - 1}/{len(DATA)}"
    )
    assert int(reply.headers["Content-Length"]) == expected.stop - expected.start
    assert reply.headers["ETag"] == f'"{sha256(DATA)}"'


async def test_416_past_the_end_and_on_an_empty_blob(
    service: Service, acme: Tenant, http: httpx.AsyncClient
) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    for header in ("bytes=3000-", "bytes=3000-3000", "bytes=-0"):
        reply = await http.get(_path(object_id), headers={"Range": header})
        assert reply.status_code == 416, (header, reply.text)
        assert reply.json()["error"]["type"] == "RangeNotSatisfiableError"
        if header != "bytes=-0":
            assert reply.headers["Content-Range"] == "bytes */3000"
    empty = await upload(service, acme, b"")
    for header in ("bytes=0-", "bytes=0-0", "bytes=-1"):
        reply = await http.get(_path(empty), headers={"Range": header})
        assert (reply.status_code, reply.headers["Content-Range"]) == (416, "bytes */0")
    reply = await http.get(_path(empty))
    assert (reply.status_code, reply.content, reply.headers["Content-Length"]) == (200, b"", "0")


async def test_304_head_and_if_range(
    service: Service, acme: Tenant, http: httpx.AsyncClient
) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, DATA)
    current = f'"{sha256(DATA)}"'
    reply = await http.get(_path(object_id), headers={"If-None-Match": current})
    assert (reply.status_code, reply.content, reply.headers["ETag"]) == (304, b"", current)
    reply = await http.get(_path(object_id), headers={"If-None-Match": "*"})
    assert reply.status_code == 304
    reply = await http.get(_path(object_id), headers={"If-None-Match": '"stale"'})
    assert (reply.status_code, reply.content) == (200, DATA)
    reply = await http.head(_path(object_id), headers={"Range": "bytes=-10"})
    assert (reply.status_code, reply.content) == (206, b"")
    assert reply.headers["Content-Range"] == "bytes 2990-2999/3000"
    reply = await http.get(_path(object_id), headers={"Range": "bytes=0-9", "If-Range": current})
    assert (reply.status_code, reply.content) == (206, DATA[:10])
    stale = {"Range": "bytes=0-9", "If-Range": '"stale"'}
    reply = await http.get(_path(object_id), headers=stale)
    assert (reply.status_code, reply.content) == (200, DATA)
