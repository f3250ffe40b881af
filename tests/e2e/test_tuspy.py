"""Issue 36: tus 1.0 with a client nobody here wrote, tuspy (PyPI): a backend creates the upload
with its key, the upload is interrupted, and resumed on the upload URL alone (no key) with a
checksum on every append; a wrong checksum is 460 and appends nothing; another tus version 412;
another Content-Type 415; past Upload-Length 413; a wrong offset 409."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os

from tusclient import client as tus

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, digest, make_bucket

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
APPEND = {**TUS, "Content-Type": "application/offset+octet-stream"}


def _interrupted(endpoint: str, headers: dict[str, str], data: bytes) -> str:
    """Create with a key, send one chunk of three, stop: the upload URL."""
    uploader = tus.TusClient(endpoint, headers=headers).uploader(
        file_stream=io.BytesIO(data),
        chunk_size=2 * MIB,
        upload_checksum=True,
        metadata={"filename": "notes.txt", "filetype": "text/plain"},
    )
    uploader.upload_chunk()  # type: ignore[no-untyped-call]  # tuspy leaves it untyped
    assert uploader.offset == 2 * MIB
    return str(uploader.url)


def _resumed(url: str, data: bytes) -> None:
    """Resume on the upload URL alone: no key, the offset from HEAD."""
    uploader = tus.TusClient(url).uploader(
        file_stream=io.BytesIO(data), url=url, chunk_size=2 * MIB, upload_checksum=True
    )
    assert uploader.offset == 2 * MIB
    uploader.upload()


async def test_tuspy_creates_interrupts_and_resumes_with_checksums(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(5 * MIB)
    endpoint = f"{service.http_url}/v1/buckets/things/objects/upload?property=notes"
    url = await asyncio.to_thread(_interrupted, endpoint, acme.headers(), data)
    path = url.removeprefix(service.http_url)

    # refused, nothing appended: a wrong checksum, version, type, offset, or length
    piece = data[2 * MIB : 2 * MIB + 10]
    wrong_sha1 = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    refusals = [
        (460, {**APPEND, "Upload-Offset": str(2 * MIB), "Upload-Checksum": f"sha1 {wrong_sha1}"}),
        (412, {**APPEND, "Tus-Resumable": "0.2.2", "Upload-Offset": str(2 * MIB)}),
        (415, {**TUS, "Content-Type": "text/plain", "Upload-Offset": str(2 * MIB)}),
        (409, {**APPEND, "Upload-Offset": "7"}),
        (413, {**APPEND, "Upload-Offset": str(len(data) - 5)}),
    ]
    for status, headers in refusals:
        async with service.http.patch(path, data=piece, headers=headers) as reply:
            assert reply.status == status, (status, await reply.text())
    async with service.http.head(path, headers=TUS) as reply:
        assert reply.status == 200 and reply.headers["Upload-Offset"] == str(2 * MIB)
        assert reply.headers["Upload-Length"] == str(len(data))

    await asyncio.to_thread(_resumed, url, data)
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    (stored,) = listed["results"]
    details = stored["blobs"][0]["details"]
    assert details["hash"] == digest(data) and details["size_bytes"] == len(data)
    assert (details["filename"], details["mime_type"]) == ("notes.txt", "text/plain")
    async with service.http.head(path, headers=TUS) as reply:  # finished: no capability
        assert reply.status == 404


async def test_tus_discovery_and_deferred_length(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    create = "/v1/buckets/things/objects/upload?property=notes"
    async with service.http.options(create) as reply:
        assert reply.status == 204
        assert reply.headers["Tus-Version"] == "1.0.0"
        extensions = set(reply.headers["Tus-Extension"].split(","))
        assert {"creation", "creation-with-upload", "creation-defer-length"} <= extensions
        assert {"termination", "expiration", "checksum"} <= extensions
        assert {"sha1", "md5"} <= set(reply.headers["Tus-Checksum-Algorithm"].split(","))
        assert int(reply.headers["Tus-Max-Size"]) > 0
    headers = {**acme.headers(), **APPEND, "Upload-Defer-Length": "1"}
    async with service.http.post(create, data=b"hello ", headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        assert reply.headers["Upload-Offset"] == "6" and "Upload-Expires" in reply.headers
        url = reply.headers["Location"]
    md5 = base64.b64encode(hashlib.md5(b"world").digest()).decode()
    last = {**APPEND, "Upload-Offset": "6", "Upload-Length": "11", "Upload-Checksum": f"md5 {md5}"}
    async with service.http.patch(url, data=b"world", headers=last) as reply:
        assert reply.status == 204, await reply.text()
        assert reply.headers["Upload-Offset"] == "11"
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    assert listed["results"][0]["blobs"][0]["details"]["hash"] == digest(b"hello world")
    # termination, with the upload URL alone
    async with service.http.post(
        create, headers={**acme.headers(), **TUS, "Upload-Length": "3"}
    ) as reply:
        url = reply.headers["Location"]
    async with service.http.delete(url, headers=TUS) as reply:
        assert reply.status == 204 and reply.headers["Tus-Resumable"] == "1.0.0"
    async with service.http.head(url, headers=TUS) as reply:
        assert reply.status == 404
