"""A stalled store never holds an answer past its deadline (issue 39).

S3 or MongoDB is frozen with SIGSTOP — the common failure of an overloaded or partitioned store,
which answers nothing and refuses nothing — while bucketd runs as `bucketd serve` runs it (the
gateway calls the server over the in-process channel). Every call made meanwhile answers within
its deadline plus one second, in the envelope (504 or 503) or with DEADLINE_EXCEEDED/UNAVAILABLE;
after SIGCONT the same calls succeed, and once the janitor has run no multipart upload is left
open and no object PROCESSING. Each test freezes stand-ins of its own, never the session's.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import aiohttp
import grpc
from grpc import aio
from pymongo import AsyncMongoClient

from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import open_s3
from bucketd.standins.launch import mongo_server, s3_server
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import PDF, PNG, b64, call, make_bucket
from tests.faults.stalls import DEADLINE, S3_KINDS, SLACK, bucketd, frozen, on_s3, own_s3, quick

UPLOAD = "/v1/buckets/things/objects/upload?property=notes&filename=n.txt"


async def _timed_rest(
    service: Service, tenant: Tenant, path: str, **request: Any
) -> tuple[float, int, Any]:
    headers = {**tenant.headers(), "X-Request-Timeout": str(DEADLINE)}
    started = time.monotonic()
    async with service.http.post(path, headers=headers, **request) as reply:
        body = await reply.json()
        return time.monotonic() - started, reply.status, body


def _text() -> bytes:
    return f"notes {os.urandom(16).hex()}\n".encode() * 100


def _json_create() -> dict[str, Any]:
    fresh = PNG + os.urandom(16)  # new bytes: registered ones would need no S3 at all
    return {"blobs": [{"property": "image", "type": "image", "data": {"base64": b64(fresh)}}]}


async def _grpc_upload(service: Service, tenant: Tenant) -> pb.Object:
    data = _text()
    messages = [
        pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(
                bucket_identifier="things",
                blobs=[pb.UploadBlobHeader(property="notes", mime_type="text/plain")],
            )
        ),
        pb.UploadObjectRequest(chunk=pb.BlobChunk(blob_index=0, write_offset=0, data=data)),
    ]
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    reply = await stub.UploadObject(iter(messages), metadata=tenant.metadata(), timeout=DEADLINE)
    return reply.object


async def _presigned(service: Service, tenant: Tenant) -> tuple[str, str]:
    """A presigned upload whose file is in S3 already: its id and the file's ETag."""
    body = {"filename": "spec.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    status, upload = await call(
        service, "POST", "/v1/buckets/things/uploads", tenant, {**body, "file_size_bytes": len(PDF)}
    )
    assert status == 200, upload
    headers = {"Content-Type": "application/pdf"}
    async with (
        aiohttp.ClientSession() as client,
        client.put(upload["presigned_url"], data=PDF, headers=headers) as reply,
    ):
        assert reply.status == 200, await reply.text()
        return upload["upload_id"], reply.headers["ETag"].strip('"')


async def _grpc_read(service: Service, tenant: Tenant, object_id: str) -> tuple[float, Any, Any]:
    """ReadObject of `notes`, whole: (seconds, status, what came); the metadata comes from
    MongoDB alone, the stream's end from S3."""
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    request = pb.ReadObjectRequest(
        bucket_identifier="things", object_identifier=object_id, blob="notes"
    )
    started, pieces = time.monotonic(), []
    try:
        stream = stub.ReadObject(request, metadata=tenant.metadata(), timeout=DEADLINE)
        pieces = [m.checksummed_data.content async for m in stream]
    except aio.AioRpcError as error:
        return time.monotonic() - started, error.code(), error.details()
    return time.monotonic() - started, grpc.StatusCode.OK, b"".join(pieces)


async def _http_read(service: Service, tenant: Tenant, object_id: str) -> tuple[float, int, Any]:
    """GET …/blobs/notes/content: (seconds, status, the envelope or the bytes)."""
    headers = {**tenant.headers(), "X-Request-Timeout": str(DEADLINE)}
    path = f"/v1/buckets/things/objects/{object_id}/blobs/notes/content"
    started = time.monotonic()
    async with service.http.get(path, headers=headers) as reply:
        body = await (reply.read() if reply.status == 200 else reply.json())
        return time.monotonic() - started, reply.status, body


async def _reads(service: Service, tenant: Tenant, object_id: str) -> list[Any]:
    """ReadObject and the HTTP content GET of an object that exists: each one's (seconds,
    status, body)."""
    return [
        await _grpc_read(service, tenant, object_id),
        await _http_read(service, tenant, object_id),
    ]


async def _calls(service: Service, tenant: Tenant, upload_id: str, etag: str) -> list[Any]:
    """A JSON create with inline bytes, a streamed HTTP upload, a gRPC upload and a confirm:
    each one's (seconds, status, body)."""
    confirm = {"etag": etag, "file_size_bytes": len(PDF)}
    answers: list[tuple[float, Any, Any]] = [
        await _timed_rest(service, tenant, "/v1/buckets/things/objects", json=_json_create()),
        await _timed_rest(service, tenant, UPLOAD, data=_text()),
        await _timed_rest(
            service, tenant, f"/v1/buckets/things/uploads/{upload_id}/confirm", json=confirm
        ),
    ]
    started = time.monotonic()
    try:
        await _grpc_upload(service, tenant)
        answers.append((time.monotonic() - started, grpc.StatusCode.OK, None))
    except aio.AioRpcError as error:
        answers.append((time.monotonic() - started, error.code(), error.details()))
    return answers


def _held_to_the_deadline(answers: list[Any]) -> None:
    for seconds, status, body in answers:
        assert seconds <= DEADLINE + SLACK, (seconds, status, body)
        if isinstance(status, int):
            assert status in {503, 504}, (status, body)
            assert body["error"]["type"] and body["error"]["message"], body
        else:
            assert status in {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE}


def _read_back(answers: list[Any], stored: pb.Object) -> None:
    """Both reads answered the object's bytes whole (their SHA-256 is the one recorded)."""
    recorded = stored.blobs[0].details.hash
    for _seconds, status, body in answers:
        assert status in {200, grpc.StatusCode.OK}, (status, body)
        assert hashlib.sha256(body).hexdigest() in recorded, (len(body), recorded)


async def _nothing_left(settings: Settings) -> bool:
    """No object PROCESSING or mid-write; no multipart upload open in the storage bucket."""
    assert settings.mongodb_uri
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        objects = client[settings.mongodb_database]["objects"]
        writing: dict[str, Any] = {"$or": [{"status": "PROCESSING"}, {"write": {"$exists": True}}]}
        if await objects.count_documents(writing):
            return False
    finally:
        await client.close()
    async with open_s3(settings) as s3:
        reply = await s3.list_multipart_uploads(Bucket=settings.s3_bucket)
    return not reply.get("Uploads")


@S3_KINDS
async def test_s3_frozen_every_call_answers_within_its_deadline(
    settings: Settings, kind: str
) -> None:
    with own_s3(kind) as (url, pid, key):
        own = on_s3(settings, url, key)
        async with bucketd(own) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            upload_id, etag = await _presigned(service, acme)
            stored = await _grpc_upload(service, acme)
            with frozen(pid):
                _held_to_the_deadline(await _calls(service, acme, upload_id, etag))
                _held_to_the_deadline(await _reads(service, acme, stored.object_id))
            for _seconds, status, body in await _calls(service, acme, upload_id, etag):
                assert status in {200, grpc.StatusCode.OK}, (status, body)
            _read_back(await _reads(service, acme, stored.object_id), stored)
            # RGW runs the requests it queued while frozen once thawed: a multipart upload
            # asked for by a call that gave up opens after its clean-up ran, and no record
            # names it; the janitor aborts it once it is old (moto answers none of them late).
            await until(lambda: _nothing_left(own), within=30)


async def test_request_timeout_of_two_seconds_bounds_a_create_with_s3_frozen(
    settings: Settings,
) -> None:
    with s3_server() as moto:
        own = quick(settings, s3_endpoint_url=moto.url)
        async with bucketd(own) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            headers = {**acme.headers(), "X-Request-Timeout": "2"}
            with frozen(moto.process.pid):
                started = time.monotonic()
                path = "/v1/buckets/things/objects"
                async with service.http.post(path, json=_json_create(), headers=headers) as reply:
                    seconds, body = time.monotonic() - started, await reply.json()
            assert seconds <= 3.0 and reply.status in {503, 504}, (seconds, reply.status, body)
            assert body["error"]["message"], body


async def test_mongodb_frozen_every_call_answers_within_its_deadline(settings: Settings) -> None:
    with mongo_server() as mongo:
        own = quick(settings, mongodb_uri=mongo.url)
        async with bucketd(own) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            upload_id, etag = await _presigned(service, acme)
            stored = await _grpc_upload(service, acme)
            with frozen(mongo.process.pid):
                _held_to_the_deadline(await _calls(service, acme, upload_id, etag))
                _held_to_the_deadline(await _reads(service, acme, stored.object_id))
            for _seconds, status, body in await _calls(service, acme, upload_id, etag):
                assert status in {200, grpc.StatusCode.OK}, (status, body)
            _read_back(await _reads(service, acme, stored.object_id), stored)
            await until(lambda: _nothing_left(own), within=30)
