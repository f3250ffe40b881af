"""Resumable uploads over HTTP (draft-ietf-httpbis-resumable-upload): create, break, HEAD, PATCH,
DELETE, take-over by a newer request (on this instance and another), exact offsets, interop
versions, and sessions shared with gRPC. tests/e2e/test_tus_js_client.py runs a draft client
nobody here wrote."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bucketd.process import running_process
from bucketd.server.services.content_writer import PART_BYTES
from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import digest, make_bucket, multipart_uploads

KIB = 1024
MIB = 1024 * 1024
PART = PART_BYTES  # the server's S3 part size
CREATE = "/v1/buckets/things/objects/upload?property=notes&filename=big.txt"
PARTIAL = {"Content-Type": "application/partial-upload"}
INTEROP = "Upload-Draft-Interop-Version"


async def _create(service: Service, tenant: Tenant, body: bytes) -> tuple[str, int]:
    """POST with `Upload-Complete: ?0`: the upload resource and the offset it answers."""
    headers = {**tenant.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
    async with service.http.post(CREATE, data=body, headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        assert reply.headers["Upload-Complete"] == "?0"
        assert "max-size=" in reply.headers["Upload-Limit"]
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


async def _send_then_drop(
    service: Service, tenant: Tenant, data: bytes, sent_bytes: int, *, version: str = "8"
) -> str:
    """A raw HTTP/1.1 client of the draft (interop `version`): announces the whole body
    (`Upload-Complete: ?1`), reads the 104 interim response, sends `sent_bytes` of the body and
    closes the connection."""
    address = urlsplit(service.http_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = [
        f"POST {CREATE} HTTP/1.1",
        f"Host: {address.netloc}",
        "Content-Type: text/plain",
        f"Content-Length: {len(data)}",
        "Upload-Complete: ?1",
        f"{INTEROP}: {version}",
        *(f"{name}: {value}" for name, value in tenant.headers().items()),
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    await writer.drain()
    interim = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert interim.startswith("HTTP/1.1 104 Upload Resumption Supported"), interim
    assert f"{INTEROP}: {version}\r\n" in interim  # the draft: MUST be on the 104
    location = next(line.split(": ", 1)[1] for line in interim.split("\r\n") if "Location" in line)
    writer.write(data[:sent_bytes])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    return location


async def _count(service: Service, route: str, method: str, status: str) -> float:
    """bucketd_http_requests_total for one route, method and status, from /metrics."""
    async with service.http.get("/metrics") as reply:
        text = await reply.text()
    labels = (f'route="{route}"', f'method="{method}"', f'status="{status}"')
    for line in text.splitlines():
        if line.startswith("bucketd_http_requests_total{") and all(x in line for x in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


UPLOAD_ROUTE = "/v1/buckets/{bucket_identifier}/objects/upload"


async def test_broken_upload_resumes_with_head_and_patch(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    """Every byte that arrived counts (not only whole parts), and the client that went away
    is a 499 in the metrics, not a server error."""
    await make_bucket(service, acme)
    data = os.urandom(64 * MIB)
    errors_before = await _count(service, UPLOAD_ROUTE, "POST", "500")
    location = await _send_then_drop(service, acme, data, 2 * PART + 12 * MIB + 12345)

    async def counted_as_gone() -> bool:
        return await _count(service, UPLOAD_ROUTE, "POST", "499") == 1

    await until(counted_as_gone)
    assert await _count(service, UPLOAD_ROUTE, "POST", "500") == errors_before
    offset = await _offset(service, acme, location)
    # past the two parts in S3: the rest is kept as the session's tail (bytes still in the
    # gateway's buffers when the connection dropped are lost with it)
    assert 2 * PART < offset <= 2 * PART + 12 * MIB + 12345
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
    assert error["error"]["type"] == "GoneError"
    status, _, error = await _patch(service, acme, location, len(data), b"more", complete=True)
    assert status == 400 and "nothing can be appended" in error["error"]["message"]
    async with service.http.head(location, headers=globex.headers()) as reply:
        assert reply.status == 404  # another organization learns nothing


async def test_small_appends_advance_the_offset_by_exactly_their_size(
    service: Service, acme: Tenant
) -> None:
    """1 KiB, 3 MiB, 5 MiB + 1: each append counts whole, while S3 still gets whole parts."""
    await make_bucket(service, acme)
    sizes = [KIB, 3 * MIB, 5 * MIB + 1, PART + 7, 2 * MIB]
    data = os.urandom(sum(sizes))
    location, offset = await _create(service, acme, data[: sizes[0]])
    assert offset == sizes[0]
    for size in sizes[1:-1]:
        status, headers, _ = await _patch(
            service, acme, location, offset, data[offset : offset + size], complete=False
        )
        offset += size
        assert (status, int(headers["Upload-Offset"])) == (204, offset)
        assert await _offset(service, acme, location) == offset
    status, headers, obj = await _patch(
        service, acme, location, offset, data[offset:], complete=True
    )
    assert status == 200, obj
    assert int(headers["Upload-Offset"]) == len(data)
    assert obj["blobs"][0]["details"]["hash"] == digest(data)
    async with service.http.get(
        f"/v1/buckets/things/objects/{obj['object_id']}", headers=acme.headers()
    ) as reply:
        assert (await reply.json())["blobs"][0]["details"]["size_bytes"] == len(data)


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
    assert error["error"]["type"] == "UploadOffsetMismatchError"
    assert "expected is at offset 0" in error["error"]["message"]


async def _stalled_patch(
    service: Service, tenant: Tenant, location: str, first: bytes
) -> tuple[asyncio.Task[Any], asyncio.Event]:
    """A PATCH that sends `first`, then goes quiet (a client whose network died): the task, and
    the event that lets it finish its body."""
    release, sending = asyncio.Event(), asyncio.Event()

    async def body() -> Any:
        yield first
        sending.set()
        await release.wait()
        yield b""

    headers = {**tenant.headers(), **PARTIAL, "Upload-Offset": "0", "Upload-Complete": "?0"}
    task = asyncio.create_task(_patched(service, location, body(), headers))
    await sending.wait()
    return task, release


async def _take_over_and_finish(
    http: aiohttp.ClientSession, tenant: Tenant, location: str, first: bytes
) -> None:
    """HEAD (which ends the stale PATCH) answers every byte it stored; a PATCH from there
    finishes the upload."""

    async def stored_first() -> bool:
        async with http.head(location, headers=tenant.headers()) as reply:
            assert reply.status == 204, reply.status
            return int(reply.headers["Upload-Offset"]) == len(first)

    await until(stored_first, within=30)
    headers = {
        **tenant.headers(),
        **PARTIAL,
        "Upload-Offset": str(len(first)),
        "Upload-Complete": "?1",
    }
    async with http.patch(location, data=b"z" * MIB, headers=headers) as reply:
        obj = await reply.json()
        assert reply.status == 200, obj
    assert obj["blobs"][0]["details"]["hash"] == digest(first + b"z" * MIB)


async def test_a_newer_request_takes_the_upload_over(service: Service, acme: Tenant) -> None:
    """The draft's Concurrency section: a new HEAD or PATCH ends the request still writing."""
    await make_bucket(service, acme)
    location, _ = await _create(service, acme, b"")
    first = os.urandom(MIB + 17)
    stale, release = await _stalled_patch(service, acme, location, first)
    await _take_over_and_finish(service.http, acme, location, first)
    release.set()
    status, answer = await stale
    assert status == 409 and answer["error"]["type"] == "ConflictError", answer
    assert "took this upload session over" in answer["error"]["message"]


async def test_another_instance_takes_the_upload_over(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    """Same database, another bucketd: the hold lives in MongoDB, so the take-over does too."""
    await make_bucket(service, acme)
    location, _ = await _create(service, acme, b"")
    first = os.urandom(2 * MIB)
    stale, release = await _stalled_patch(service, acme, location, first)
    async with (
        running_process(settings) as other,
        aiohttp.ClientSession(base_url=other.url) as http,
    ):
        await _take_over_and_finish(http, acme, location, first)
    release.set()
    status, _ = await stale
    assert status == 409


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
        named = target.rsplit("/", 1)[1].split(".")[0]  # the session id, not the URL's secret
        answers.append((status, error["error"]["message"].replace(named, "ID")))
        async with service.http.delete(target, headers=globex.headers()) as reply:
            answers.append((reply.status, (await reply.json())["error"]["type"]))
    assert answers[:3] == answers[3:]
    assert answers[0] == 404 and answers[1][0] == 404
    assert await _offset(service, acme, location) == 0  # untouched for its owner


async def test_another_buckets_path_does_not_reach_the_upload(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, acme, "others")
    location, _ = await _create(service, acme, b"abc")
    elsewhere = location.replace("/buckets/things/", "/buckets/others/")
    async with service.http.head(elsewhere, headers=acme.headers()) as reply:
        assert reply.status == 404
    status, _, _ = await _patch(service, acme, elsewhere, 3, b"x", complete=True)
    assert status == 404
    async with service.http.delete(elsewhere, headers=acme.headers()) as reply:
        assert reply.status == 404
    assert await _offset(service, acme, location) == 3


async def test_delete_cancels_and_frees_the_parts(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    location, offset = await _create(service, acme, os.urandom(PART + MIB))
    assert offset == PART + MIB and await multipart_uploads(settings)
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
    session_id = location.rsplit("/", 1)[1].split(".")[0]  # the URL's secret follows it
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
        ("PATCH", {**PARTIAL, "Upload-Offset": "²", "Upload-Complete": "?0"}, 400, "integer"),
        (
            "PATCH",
            {**PARTIAL, "Upload-Offset": "0", "Upload-Complete": "?1", "Upload-Length": "7"},
            400,
            "Upload-Length disagrees",
        ),
        ("POST", {"Upload-Complete": "?1", "Upload-Length": "1024"}, 400, "disagree"),
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


async def test_a_body_shorter_than_its_declared_length_stores_nothing(
    service: Service, acme: Tenant
) -> None:
    """Upload-Length: 1024 and no body, resumable or not: refused, and no object is made."""
    await make_bucket(service, acme)
    for extra in ({"Upload-Complete": "?1"}, {}):
        headers = {**acme.headers(), "Content-Type": "text/plain", "Upload-Length": "1024", **extra}
        async with service.http.post(CREATE, data=b"", headers=headers) as reply:
            assert reply.status == 400, await reply.text()
            assert "Upload-Length" in (await reply.json())["error"]["message"]
    async with service.http.get("/v1/buckets/things/objects", headers=acme.headers()) as reply:
        assert (await reply.json())["results"] == []


async def test_an_append_past_the_upload_length_is_refused(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    headers = {**acme.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
    headers["Upload-Length"] = "10"
    async with service.http.post(CREATE, data=b"12345", headers=headers) as reply:
        assert reply.status == 201 and reply.headers["Upload-Length"] == "10"
        location = reply.headers["Location"]
    status, _, error = await _patch(service, acme, location, 5, b"678901", complete=False)
    assert status == 400 and "exceeds Upload-Length 10" in error["error"]["message"]
    assert await _offset(service, acme, location) == 5


def _plain_post(url: str, tenant: Tenant, headers: dict[str, str]) -> tuple[int, str | None]:
    """Python's http.client, as HTTPie and requests use it: the first status it reads."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        body = b"hello, plain client"
        request_headers = {**tenant.headers(), "Content-Type": "text/plain", **headers}
        connection.request("POST", CREATE, body=body, headers=request_headers)
        reply = connection.getresponse()
        reply.read()
        return reply.status, reply.getheader(INTEROP)
    finally:
        connection.close()


async def test_a_client_without_the_interop_header_reads_the_final_answer_first(
    service: Service, acme: Tenant
) -> None:
    """No 104 unless the request names a draft version bucketd speaks (http.client would take
    the 104 for the answer); a version it speaks gets the 104 and its answers repeat it."""
    await make_bucket(service, acme)
    plain = await asyncio.to_thread(_plain_post, service.http_url, acme, {"Upload-Complete": "?1"})
    assert plain == (200, None)
    # a version bucketd does not speak is refused at creation (issue 36), with no 104 either
    unknown = await asyncio.to_thread(
        _plain_post, service.http_url, acme, {"Upload-Complete": "?1", INTEROP: "3"}
    )
    assert unknown == (400, None)
    for version in ("6", "7", "8"):
        location = await _send_then_drop(service, acme, b"abc", 2, version=version)
        headers = {**acme.headers(), INTEROP: version}
        async with service.http.head(location, headers=headers) as reply:
            assert reply.status == 204 and reply.headers[INTEROP] == version


async def test_draft_05_finishes_when_an_append_reaches_the_length(
    service: Service, acme: Tenant
) -> None:
    """Interop version 6 (tus-js-client's ietf-draft-05 resuming from a file sends its last
    append with Upload-Complete: ?0): reaching Upload-Length completes the upload, as tusd does.
    Later versions wait for Upload-Complete: ?1, as their drafts say."""
    await make_bucket(service, acme)
    for version, finished in (("6", True), ("8", False)):
        headers = {**acme.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
        headers.update({"Upload-Length": "6", INTEROP: version})
        async with service.http.post(CREATE, data=b"abc", headers=headers) as reply:
            location = reply.headers["Location"]
        append = {**acme.headers(), **PARTIAL, "Upload-Offset": "3", "Upload-Complete": "?0"}
        append[INTEROP] = version
        async with service.http.patch(location, data=b"def", headers=append) as reply:
            assert reply.headers["Upload-Offset"] == "6"
            assert reply.headers["Upload-Complete"] == ("?1" if finished else "?0")
            assert reply.status == (200 if finished else 204)
