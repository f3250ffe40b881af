"""Issue 36, tus 1.0 on the wire: every answer to a tus request carries Tus-Resumable, the
gateway's own refusals (400, 413, 460) and the shared error middleware's included; a chunked
PATCH (no Content-Length) finishes the upload when its bytes reach Upload-Length, and is refused
(413) past it."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, digest, make_bucket

TUS = {"Tus-Resumable": "1.0.0"}
APPEND = {**TUS, "Content-Type": "application/offset+octet-stream"}
CREATE = "/v1/buckets/things/objects/upload?property=notes"
KIB = 1024


async def _chunked(data: bytes, piece: int = 64 * KIB) -> AsyncIterator[bytes]:
    """A body aiohttp sends with Transfer-Encoding: chunked (its length unknown to it)."""
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def _create(service: Service, tenant: Tenant, length: int) -> str:
    headers = {**tenant.headers(), **TUS, "Upload-Length": str(length)}
    async with service.http.post(CREATE, headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        return reply.headers["Location"]


async def test_every_refusal_of_a_tus_request_carries_tus_resumable(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    keyed = {**acme.headers(), **TUS}
    creations = [
        (400, {**keyed}),  # neither Upload-Length nor Upload-Defer-Length
        (400, {**keyed, "Upload-Length": "5", "Upload-Metadata": "filename !!"}),
        (413, {**keyed, "Upload-Length": str(1 << 60)}),  # past Tus-Max-Size
        (401, {**TUS, "Upload-Length": "5"}),  # no key
        (412, {**keyed, "Tus-Resumable": "0.2.2", "Upload-Length": "5"}),
    ]
    for status, headers in creations:
        async with service.http.post(CREATE, headers=headers) as reply:
            assert reply.status == status, (status, await reply.text())
            assert reply.headers.get("Tus-Resumable") == "1.0.0", (status, reply.headers)
            assert (await reply.json())["status"] == status
    location = await _create(service, acme, 10)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    eleven = base64.b64encode(hashlib.md5(b"x" * 11).digest()).decode()  # right, but too long
    appends = [
        (460, {**APPEND, "Upload-Offset": "0", "Upload-Checksum": f"md5 {wrong}"}, b"abc"),
        (400, {**APPEND, "Upload-Offset": "0", "Upload-Checksum": "crc99 AAAA"}, b"abc"),
        (400, {**APPEND}, b"abc"),  # no Upload-Offset
        (413, {**APPEND, "Upload-Offset": "0"}, b"x" * 11),
        (
            413,
            {**APPEND, "Upload-Offset": "0", "Upload-Checksum": f"md5 {eleven}"},
            _chunked(b"x" * 11),
        ),
    ]
    for status, headers, body in appends:
        async with service.http.patch(location, data=body, headers=headers) as reply:
            assert reply.status == status, (status, await reply.text())
            assert reply.headers.get("Tus-Resumable") == "1.0.0", (status, reply.headers)
    async with service.http.head(location, headers=TUS) as reply:  # nothing was appended
        assert reply.status == 200 and reply.headers["Upload-Offset"] == "0"
    wrong_secret = location[:-1] + ("A" if location[-1] != "A" else "B")
    headers = {**APPEND, "Upload-Offset": "0"}
    async with service.http.patch(wrong_secret, data=b"a", headers=headers) as reply:
        assert reply.status == 404 and reply.headers.get("Tus-Resumable") == "1.0.0"


async def test_a_chunked_patch_finishes_the_upload_at_its_length(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(3 * 1024 * KIB + 7)
    location = await _create(service, acme, len(data))
    first = 1024 * KIB + 3
    # a chunked PATCH of part of the file: the upload stays open at its offset
    headers = {**APPEND, "Upload-Offset": "0"}
    async with service.http.patch(location, data=_chunked(data[:first]), headers=headers) as reply:
        assert reply.status == 204, await reply.text()
        assert "Content-Length" not in reply.request_info.headers
        assert reply.headers["Upload-Offset"] == str(first)
    # one byte past the length: 413; what arrived before it may be kept, never a byte past it
    headers = {**APPEND, "Upload-Offset": str(first)}
    too_much = _chunked(data[first:] + b"!", piece=len(data))
    async with service.http.patch(location, data=too_much, headers=headers) as reply:
        assert reply.status == 413, await reply.text()
        assert reply.headers["Tus-Resumable"] == "1.0.0"
    async with service.http.head(location, headers=TUS) as reply:
        assert reply.status == 200, await reply.text()
        kept = int(reply.headers["Upload-Offset"])
        assert first <= kept <= len(data)
    # the rest from there, chunked: it reaches Upload-Length, and that finishes the object
    headers = {**APPEND, "Upload-Offset": str(kept)}
    async with service.http.patch(location, data=_chunked(data[kept:]), headers=headers) as reply:
        assert reply.status == 204, await reply.text()
        assert reply.headers["Upload-Offset"] == str(len(data))
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    (stored,) = listed["results"]
    details = stored["blobs"][0]["details"]
    assert details["hash"] == digest(data) and details["size_bytes"] == len(data)
    async with service.http.head(location, headers=TUS) as reply:  # finished: no capability
        assert reply.status == 404


async def test_a_chunked_creation_with_upload_makes_the_object(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(300 * KIB)
    headers = {
        **acme.headers(),
        **APPEND,
        "Upload-Length": str(len(data)),
        "Upload-Metadata": f"filename {base64.b64encode(b'n.txt').decode()}",
    }
    async with service.http.post(CREATE, data=_chunked(data), headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        assert reply.headers["Upload-Offset"] == str(len(data))
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    (stored,) = listed["results"]
    assert stored["blobs"][0]["details"]["hash"] == digest(data)
    assert stored["blobs"][0]["details"]["filename"] == "n.txt"
