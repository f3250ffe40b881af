"""Issue 38, what third-party clients tripped on: a REST caller reads REST names in errors
(`Upload-Offset`, `Content-Type`) where a gRPC caller reads the proto's; a wrong offset on a
final append is the draft's 409 even when a length was announced; a declared length with no
body is the draft's 400; a batch item names no bucket but the path's."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest

from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, make_bucket
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()

CREATE = "/v1/buckets/things/objects/upload?property=notes&filename=n.txt"
OFFSET_ERROR = "the next byte expected is at offset 5 (offsets must be contiguous)"
MIME_ERROR = "content of type text/plain does not fit an image property"


async def test_a_wrong_offset_on_a_final_append_is_409_in_rest_words(
    service: Service, acme: Tenant
) -> None:
    """Upload-Length announced, then a final append from the wrong offset: the 409 and the
    offset to resume from, not a length error; the message names Upload-Offset."""
    await make_bucket(service, acme)
    headers = {**acme.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
    async with service.http.post(
        CREATE, data=b"12345", headers={**headers, "Upload-Length": "10"}
    ) as reply:
        assert reply.status == 201, await reply.text()
        location = reply.headers["Location"]
    patch = {
        **acme.headers(),
        "Content-Type": "application/partial-upload",
        "Upload-Offset": "2",
        "Upload-Complete": "?1",
    }
    async with service.http.patch(location, data=b"34567", headers=patch) as reply:
        error = (await reply.json())["error"]
        assert reply.status == 409, error
        assert reply.headers["Upload-Offset"] == "5"
    assert error["type"] == "UploadOffsetMismatchError"
    assert error["message"] == f"Upload-Offset 2: {OFFSET_ERROR}"
    assert error["details"]["field"] == "Upload-Offset"
    # ... and the right offset finishes it.
    async with service.http.patch(
        location, data=b"67890", headers={**patch, "Upload-Offset": "5"}
    ) as reply:
        assert reply.status == 200, await reply.text()


async def test_a_wrong_write_offset_over_grpc_keeps_the_proto_name(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    blob = pb.UploadBlobHeader(property="notes", mime_type="text/plain")
    messages = [
        pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(bucket_identifier="things", blobs=[blob])
        ),
        pb.UploadObjectRequest(chunk=pb.BlobChunk(blob_index=0, write_offset=0, data=b"12345")),
        pb.UploadObjectRequest(chunk=pb.BlobChunk(blob_index=0, write_offset=7, data=b"x")),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.UploadObject(iter(messages), metadata=acme.metadata())
    assert failed.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert failed.value.details() == f"chunk.write_offset 7: {OFFSET_ERROR}"


async def test_a_content_type_that_does_not_fit_names_the_header_over_http(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    headers = {**acme.headers(), "Content-Type": "text/plain"}
    for extra in ({}, {"Upload-Complete": "?1"}):  # one-shot and resumable
        async with service.http.post(
            "/v1/buckets/things/objects/upload?property=image",
            data=b"plain words",
            headers={**headers, **extra},
        ) as reply:
            error = (await reply.json())["error"]
            assert reply.status == 422, error
        assert error["message"] == f"Content-Type: {MIME_ERROR}", extra
        assert "blobs[0]" not in json.dumps(error)


async def test_a_mime_type_that_does_not_fit_keeps_the_proto_name_over_grpc(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    blob = pb.UploadBlobHeader(property="image", mime_type="text/plain")
    header = pb.UploadObjectHeader(bucket_identifier="things", blobs=[blob])
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.UploadObject(
            iter([pb.UploadObjectRequest(header=header)]), metadata=acme.metadata()
        )
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details() == f"blobs[0].mime_type: {MIME_ERROR}"


async def _post_without_body(service: Service, tenant: Tenant, headers: dict[str, str]) -> Any:
    """A POST with no body and no Content-Length (what aiohttp and http.client never send)."""
    address = urlsplit(service.http_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    lines = [f"POST {CREATE} HTTP/1.1", f"Host: {address.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in {**tenant.headers(), **headers}.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_declared_length_without_a_body_is_400(service: Service, acme: Tenant) -> None:
    """The draft: lengths that do not agree are a 400 (Bad Request), resumable or not."""
    await make_bucket(service, acme)
    for extra in ({}, {"Upload-Complete": "?1"}):
        headers = {"Content-Type": "text/plain", "Upload-Length": "1024", **extra}
        status, answer = await _post_without_body(service, acme, headers)
        assert status == 400, answer
        assert answer["error"]["message"] == ("Upload-Length 1024 and the body's length 0 disagree")
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    assert listed["results"] == []


async def test_a_batch_item_names_no_bucket_but_the_paths(service: Service, acme: Tenant) -> None:
    """Not required in the OpenAPI document; naming another bucket fails the item (it would
    not go there); naming this one is a user field, as any undeclared key of an object body."""
    bucket = await make_bucket(service, acme)
    async with service.http.get("/openapi.json") as reply:
        item = (await reply.json())["components"]["schemas"]["CreateObjectRequest"]
    assert "bucket_identifier" not in item["properties"]
    assert "bucket_identifier" not in item.get("required", [])
    objects = [
        {"title": "plain"},
        {"bucket_identifier": "elsewhere", "title": "lost"},
        {"bucket_identifier": bucket["bucket_id"], "title": "kept"},
    ]
    status, reply = await call(
        service, "POST", "/v1/buckets/things/objects/batch", acme, {"objects": objects}
    )
    assert status == 200, reply
    assert (reply["succeeded_count"], reply["failed_count"]) == (2, 1)
    failed = reply["failed"][0]
    assert (failed["object_index"], failed["error_type"]) == (1, "ValidationError")
    assert failed["error"].startswith(
        "objects[1].bucket_identifier: 'elsewhere' is not this batch's bucket 'things'"
    )
    assert reply["succeeded"][1]["bucket_identifier"] == bucket["bucket_id"]


async def test_a_batch_item_naming_another_bucket_fails_over_grpc(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    request = pb.CreateObjectsBatchRequest(
        bucket_identifier="things",
        objects=[
            pb.CreateObjectRequest(bucket_identifier="things"),
            pb.CreateObjectRequest(bucket_identifier="elsewhere"),
        ],
    )
    reply = await stub.CreateObjectsBatch(request, metadata=acme.metadata())
    assert reply.succeeded_count == 1 and reply.failed_items[0].object_index == 1
    assert "'elsewhere' is not this batch's bucket" in reply.failed_items[0].error
