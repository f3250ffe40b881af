"""Resumable uploads over HTTP (draft-ietf-httpbis-resumable-upload): create, break, HEAD, PATCH,
DELETE, and sessions shared with gRPC."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any
from urllib.parse import urlsplit

import pytest

from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import digest, make_bucket, multipart_uploads

MIB = 1024 * 1024
PART = 8 * MIB  # the server's part size: offsets advance by whole parts
CREATE = "/v1/buckets/things/objects/upload?property=notes&filename=big.txt"
PARTIAL = {"Content-Type": "application/partial-upload"}


async def _create(service: Service, tenant: Tenant, body: bytes) -> tuple[str, int]:
    """POST with `Upload-Complete: ?0`: the upload resource and the offset it answers."""
    headers = {**tenant.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
    async with service.http.post(CREATE, data=body, headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        assert reply.headers["Upload-Complete"] == "?0"
        assert "min-append-size=8388608" in reply.headers["Upload-Limit"]
        return reply.headers["Location"], int(reply.headers["Upload-Offset"])


async def _patch(
    service: Service, tenant: Tenant, location: str, offset: int, body: bytes, *, complete: bool
) -> tuple[int, dict[str, str], Any]:
    headers = {
        **tenant.headers(),
        **PARTIAL,
        "Upload-Offset": str(offset),
        "Upload-Complete": "?1" if complete else "?0",
    }
    async with service.http.patch(location, data=body, headers=headers) as reply:
        answer = await reply.json() if reply.content_type == "application/json" else None
        return reply.status, dict(reply.headers), answer


async def _offset(service: Service, tenant: Tenant, location: str) -> int:
    async with service.http.head(location, headers=tenant.headers()) as reply:
        assert reply.status == 204, reply.status
        assert reply.headers["Upload-Complete"] == "?0"
        assert reply.headers["Cache-Control"] == "no-store"
        return int(reply.headers["Upload-Offset"])


async def _send_then_drop(service: Service, tenant: Tenant, data: bytes, sent_bytes: int) -> str:
    """A raw HTTP/1.1 client: announces the whole body (`Upload-Complete: ?1`), reads the 104
    interim response, sends `sent_bytes` of the body and closes the connection."""
    address = urlsplit(service.http_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = [
        f"POST {CREATE} HTTP/1.1",
        f"Host: {address.netloc}",
        "Content-Type: text/plain",
        f"Content-Length: {len(data)}",
        "Upload-Complete: ?1",
        *(f"{name}: {value}" for name, value in tenant.headers().items()),
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    await writer.drain()
    interim = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert interim.startswith("HTTP/1.1 104 Upload Resumption Supported"), interim
    location = next(line.split(": ", 1)[1] for line in interim.split("\r\n") if "Location" in line)
    writer.write(data[:sent_bytes])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    return location


async def test_broken_upload_resumes_with_head_and_patch(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(64 * MIB)
    location = await _send_then_drop(service, acme, data, 20 * MIB)

    async def two_parts_persisted() -> bool:
        return await _offset(service, acme, location) == 2 * PART

    await until(two_parts_persisted)  # 20 MiB sent: 16 MiB in whole parts, the rest re-sent
    offset = await _offset(service, acme, location)
    status, headers, obj = await _patch(
        service, acme, location, offset, data[offset:], complete=True
    )
    assert status == 200, obj
    assert headers["Upload-Complete"] == "?1"
    assert obj["blobs"][0]["details"]["hash"] == digest(data)
    assert obj["blobs"][0]["details"]["size_bytes"] == len(data)
    assert await multipart_uploads(settings) == []


async def test_a_finished_upload_points_at_its_object(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    """A client whose final answer was lost learns what its upload made."""
    await make_bucket(service, acme)
    data = os.urandom(MIB)
    location, _ = await _create(service, acme, b"")
    status, _, obj = await _patch(service, acme, location, 0, data, complete=True)
    assert status == 200
    object_location = f"/v1/buckets/things/objects/{obj['object_id']}"
    async with service.http.head(location, headers=acme.headers()) as reply:
        assert reply.status == 204
        assert reply.headers["Upload-Complete"] == "?1"
        assert int(reply.headers["Upload-Offset"]) == len(data)
        assert reply.headers["Location"] == object_location
    status, headers, error = await _patch(service, acme, location, len(data), b"", complete=True)
    assert (status, headers["Location"]) == (410, object_location), error
    status, _, error = await _patch(service, acme, location, len(data), b"more", complete=True)
    assert status == 400 and "nothing can be appended" in error["error"]["message"]
    async with service.http.head(location, headers=globex.headers()) as reply:
        assert reply.status == 404  # another organization learns nothing


async def test_upload_in_appends_keeps_whole_parts_only(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    data = os.urandom(3 * PART + 5 * MIB)
    location, offset = await _create(service, acme, data[:PART])
    assert offset == PART
    # 10 MiB appended: the 2 MiB after the part boundary are not kept, and the answer says so
    status, headers, _ = await _patch(
        service, acme, location, offset, data[PART : 2 * PART + 2 * MIB], complete=False
    )
    assert (status, int(headers["Upload-Offset"])) == (204, 2 * PART)
    assert await _offset(service, acme, location) == 2 * PART
    status, headers, _ = await _patch(
        service, acme, location, 2 * PART, data[2 * PART : 3 * PART], complete=False
    )
    assert (status, int(headers["Upload-Offset"])) == (204, 3 * PART)
    status, _, obj = await _patch(
        service, acme, location, 3 * PART, data[3 * PART :], complete=True
    )
    assert status == 200, obj
    assert obj["blobs"][0]["details"]["hash"] == digest(data)


async def test_options_announces_resumable_uploads(service: Service) -> None:
    async with service.http.options(CREATE) as reply:
        assert reply.status == 204
        assert reply.headers["Accept-Patch"] == "application/partial-upload"


async def test_wrong_offset_is_409_with_the_right_one(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    location, offset = await _create(service, acme, b"")
    assert offset == 0
    status, headers, error = await _patch(service, acme, location, 5, b"xyz", complete=True)
    assert status == 409 and headers["Upload-Offset"] == "0"
    assert "resume from 0" in error["error"]["message"]


async def test_a_second_append_while_one_is_writing_is_409(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    location, _ = await _create(service, acme, b"")
    release, sending = asyncio.Event(), asyncio.Event()

    async def slow_body() -> Any:
        yield b"x" * MIB
        sending.set()
        await release.wait()
        yield b"y" * MIB

    headers = {**acme.headers(), **PARTIAL, "Upload-Offset": "0", "Upload-Complete": "?1"}
    first = asyncio.create_task(_patched(service, location, slow_body(), headers))
    await sending.wait()

    async def refused() -> bool:  # once the first request's stream has reached the server
        status, _, error = await _patch(service, acme, location, 0, b"z", complete=True)
        assert status in {409, 200}, error
        return status == 409 and "another stream is writing" in error["error"]["message"]

    await until(refused)
    release.set()
    status, obj = await first
    assert status == 200 and obj["blobs"][0]["details"]["size_bytes"] == 2 * MIB


async def _patched(
    service: Service, location: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    async with service.http.patch(location, data=body, headers=headers) as reply:
        return reply.status, await reply.json()


async def test_another_organization_gets_404_as_for_a_missing_upload(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await make_bucket(service, acme)
    location, _ = await _create(service, acme, b"")
    missing = location.rsplit("/", 1)[0] + "/ses_doesnotexist0000"
    answers: list[Any] = []
    for target in (location, missing):
        async with service.http.head(target, headers=globex.headers()) as reply:
            answers.append(reply.status)
        status, _, error = await _patch(service, globex, target, 0, b"x", complete=True)
        answers.append((status, error["error"]["message"].replace(target.rsplit("/", 1)[1], "ID")))
        async with service.http.delete(target, headers=globex.headers()) as reply:
            answers.append((reply.status, (await reply.json())["error"]["type"]))
    assert answers[:3] == answers[3:]
    assert answers[0] == 404 and answers[1][0] == 404
    assert await _offset(service, acme, location) == 0  # untouched for its owner


async def test_delete_cancels_and_frees_the_parts(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    location, offset = await _create(service, acme, os.urandom(PART + MIB))
    assert offset == PART and await multipart_uploads(settings)
    async with service.http.delete(location, headers=acme.headers()) as reply:
        assert reply.status == 204
    assert await multipart_uploads(settings) == []
    async with service.http.head(location, headers=acme.headers()) as reply:
        assert reply.status == 404


async def test_a_grpc_session_finished_over_http_and_back(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    data = os.urandom(PART + 3 * MIB)
    header = pb.UploadObjectHeader(
        bucket_identifier="things",
        blobs=[pb.UploadBlobHeader(property="notes", mime_type="text/plain", filename="g.txt")],
    )
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=header), metadata=acme.metadata()
    )
    location = f"/v1/buckets/things/objects/upload/{started.session_id}"
    status, _, obj = await _patch(service, acme, location, 0, data, complete=True)
    assert status == 200 and obj["blobs"][0]["details"]["hash"] == digest(data)

    # and the other way: started over HTTP, finished by an UploadObject stream
    location, offset = await _create(service, acme, data[:PART])
    session_id = location.rsplit("/", 1)[1]
    status_reply = await stub.GetUploadSession(
        pb.GetUploadSessionRequest(session_id=session_id), metadata=acme.metadata()
    )
    assert status_reply.blobs[0].persisted_size == offset == PART
    messages = [pb.UploadObjectRequest(header=pb.UploadObjectHeader(session_id=session_id))]
    for start in range(offset, len(data), MIB):
        chunk = pb.BlobChunk(blob_index=0, write_offset=start, data=data[start : start + MIB])
        messages.append(pb.UploadObjectRequest(chunk=chunk))
    reply = await stub.UploadObject(iter(messages), metadata=acme.metadata())
    assert reply.object.blobs[0].details.hash == "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "case",
    [
        ("POST", {"Upload-Complete": "yes"}, 400, "Upload-Complete must be ?1"),
        ("PATCH", {"Upload-Complete": "?1", "Upload-Offset": "0"}, 415, "partial-upload"),
        ("PATCH", {**PARTIAL, "Upload-Complete": "?1"}, 400, "Upload-Offset is required"),
        ("PATCH", {**PARTIAL, "Upload-Offset": "-1", "Upload-Complete": "?1"}, 400, "integer"),
        ("PATCH", {**PARTIAL, "Upload-Offset": "0"}, 400, "Upload-Complete must be"),
    ],
)
async def test_bad_resumable_headers_are_clear(
    service: Service, acme: Tenant, case: tuple[str, dict[str, str], int, str]
) -> None:
    method, headers, status, message = case
    await make_bucket(service, acme)
    location, _ = await _create(service, acme, b"")
    target = CREATE if method == "POST" else location
    request_headers = {**acme.headers(), "Content-Type": "text/plain", **headers}
    async with service.http.request(method, target, data=b"x", headers=request_headers) as reply:
        assert reply.status == status, await reply.text()
        assert message in (await reply.json())["error"]["message"]
    assert await _offset(service, acme, location) == 0  # nothing was appended
