"""The streaming HTTP route: raw bodies and multipart/form-data piped into UploadObject."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, PNG, digest, make_bucket, s3_bytes, sha256

MIB = 1024 * 1024
PATH = "/v1/buckets/things/objects/upload"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_stream_blob_bytes=150 * MIB)


async def test_100_mib_raw_body_keeps_its_hash(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    block = os.urandom(MIB)
    expected = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:  # chunked transfer, produced as it goes
        for _ in range(100):
            expected.update(block)
            yield block

    async with service.http.post(
        f"{PATH}?property=notes&filename=big.txt&key_prefix=/big",
        data=body(),
        headers={**acme.headers(), "Content-Type": "text/plain"},
    ) as reply:
        assert reply.status == 200, await reply.text()
        obj = await reply.json()
    blob = obj["blobs"][0]
    assert blob["details"] == {
        "filename": "big.txt",
        "size_bytes": 100 * MIB,
        "mime_type": "text/plain",
        "hash": f"sha256:{expected.hexdigest()}",
    }
    assert obj["key_prefix"] == "/big"
    assert sha256(await s3_bytes(settings, blob["properties"]["url"])) == expected.hexdigest()


async def test_multipart_form_with_fields_and_two_files(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    form = aiohttp.FormData()
    form.add_field(
        "object",
        json.dumps({"key_prefix": "/forms", "metadata": {"k": "v"}}),
        content_type="application/json",
    )
    form.add_field("image", PNG, filename="red.png", content_type="image/png")
    form.add_field("doc", PDF, filename="spec.pdf", content_type="application/pdf")
    async with service.http.post(PATH, data=form, headers=acme.headers()) as reply:
        assert reply.status == 200, await reply.text()
        obj = await reply.json()
    assert obj["metadata"] == {"k": "v"} and obj["key_prefix"] == "/forms"
    assert [(b["property"], b["details"]["hash"]) for b in obj["blobs"]] == [
        ("image", digest(PNG)),
        ("doc", digest(PDF)),
    ]


async def test_route_errors_are_clear(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    cases = [
        ("", b"x", "text/plain", 422, "'property' is required"),
        ("?property=nope", b"x", "text/plain", 422, "'nope' is not a field"),
        ("?property=doc", PNG, "image/png", 422, "image/png does not fit a pdf property"),
        # the query parameters are UploadBlobHeader's and UploadObjectHeader's (http_in) fields
        ("?property=doc&colour=red", PDF, "application/pdf", 422, "accepted: key_prefix"),
        ("?property=doc&type=pdfx", PDF, "application/pdf", 422, "'pdfx' is not one of"),
    ]
    for query, data, content_type, status, fragment in cases:
        async with service.http.post(
            f"{PATH}{query}", data=data, headers={**acme.headers(), "Content-Type": content_type}
        ) as reply:
            body = await reply.json()
            assert reply.status == status, body
            assert fragment in body["error"]["message"]


async def test_too_large_is_413(service: Service, acme: Tenant) -> None:
    """Sent without a length (a declared one the gateway, fitted to the server's limit, refuses
    before reading), the body is stopped at the server's limit."""
    await make_bucket(service, acme)
    too_large = 150 * MIB + 1

    async def undeclared() -> AsyncIterator[bytes]:
        for start in range(0, too_large, 4 * MIB):
            yield b"x" * min(4 * MIB, too_large - start)

    async with service.http.post(
        f"{PATH}?property=notes",
        data=undeclared(),
        headers={**acme.headers(), "Content-Type": "text/plain"},
    ) as reply:
        body = await reply.json()
        assert reply.status == 413, body
    assert "exceeds the blob limit of 157286400 bytes" in body["error"]["message"]


async def test_malformed_json_part_is_400(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    form = aiohttp.FormData()
    form.add_field("object", "{not json", content_type="application/json")
    form.add_field("doc", PDF, filename="spec.pdf", content_type="application/pdf")
    async with service.http.post(PATH, data=form, headers=acme.headers()) as reply:
        assert reply.status == 400
        body = await reply.json()
    assert body["error"]["type"] == "BadRequestError"


async def _rpc_count(http: aiohttp.ClientSession, code: str) -> float:
    async with http.get("/metrics") as reply:
        text = await reply.text()
    for line in text.splitlines():
        counted = line.startswith("bucketd_rpc_requests_total{") and "UploadObject" in line
        if counted and f'code="{code}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_in_process_uploads_are_observed_and_authenticated(
    service: Service, acme: Tenant
) -> None:
    """The streaming routes call UploadObject in-process (no gRPC hop) through the server's own
    interceptors: counted and logged as an RPC, refused without a valid key."""
    await make_bucket(service, acme)
    before = await _rpc_count(service.http, "OK")
    headers = {**acme.headers(), "Content-Type": "image/png"}
    async with service.http.post(f"{PATH}?property=image", data=PNG, headers=headers) as reply:
        assert reply.status == 200, await reply.text()
    assert await _rpc_count(service.http, "OK") == before + 1
    wrong = {**headers, "Authorization": "Bearer sk_test_" + "q" * 32}
    async with service.http.post(f"{PATH}?property=image", data=PNG, headers=wrong) as reply:
        assert reply.status == 401 and (await reply.json())["error"]["type"] == "UnauthorizedError"


async def test_a_gateway_of_its_own_streams_over_grpc(service: Service, acme: Tenant) -> None:
    """A gateway that is not inside the server's process dials UploadObject over gRPC: the
    raw route and a resumable upload work the same."""
    await make_bucket(service, acme)
    data = os.urandom(9 * 1024 * 1024)
    async with (
        running_gateway(service.grpc_address, GatewaySettings(), host="127.0.0.1", port=0) as url,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        headers = {**acme.headers(), "Content-Type": "text/plain"}
        async with http.post(f"{PATH}?property=notes", data=data, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
            assert (await reply.json())["blobs"][0]["details"]["hash"] == digest(data)
        opening = {**headers, "Upload-Complete": "?0"}
        async with http.post(f"{PATH}?property=notes", data=data[:100], headers=opening) as reply:
            assert reply.status == 201, await reply.text()
            location = reply.headers["Location"]
        rest = {
            **acme.headers(),
            "Content-Type": "application/partial-upload",
            "Upload-Offset": "100",
            "Upload-Complete": "?1",
        }
        async with http.patch(location, data=data[100:], headers=rest) as reply:
            assert reply.status == 200, await reply.text()
            assert (await reply.json())["blobs"][0]["details"]["hash"] == digest(data)
