"""Hostile and careless input: each gets a 4xx in the envelope that names what to fix, never a
5xx, never an exception class name, and never reaches MongoDB as an operator."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from typing import Any

import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, create, make_bucket
from tests.shared_service import shared_service

LIST = "/v1/buckets/things/objects/list"
_CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+(?:Error|Exception)\b|Traceback")


# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service(
    lambda settings: dataclasses.replace(settings, max_metadata_bytes=4096)
)


def _clean(reply: dict[str, Any]) -> None:
    assert reply["success"] is False and reply["status"] == reply["status"]
    message = reply["error"]["message"]
    assert message and not _CLASS_NAME.search(message.replace(reply["error"]["type"], "")), message


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"field": "metadata.title", "operator": "eq", "value": {"$ne": None}}, "not allowed"),
        ({"metadata.title": {"$regex": "a" * 5000}}, "'$regex' is not allowed"),
        ({"field": "metadata.title", "operator": "eq", "value": {"a": 1}}, "needs a string"),
        ({"metadata.title": {"a": 1}}, "needs a string"),
        ({"metadata.title": {"$where": "sleep(100)"}}, "'$where' is not allowed"),
        ({"AND": [{"field": "$where", "value": "1"}]}, "holds '$'"),
        ({"$or": [{"status": "PENDING"}]}, "'$or' is not allowed"),
        ({"field": "status", "operator": "in", "value": [{"$gt": ""}]}, "not allowed"),
        ({"field": "status", "operator": "in", "value": [{"a": ""}]}, "needs a string"),
        ({"field": "metadata.$where", "operator": "eq", "value": 1}, "holds '$'"),
        ({"field": "metadata.a.$ne", "operator": "eq", "value": 1}, "holds '$'"),
        ({"metadata.a..b": 1}, "has an empty segment"),
        ({"metadata..": 1}, "has an empty segment"),
        ({"metadata.\u0000": 1}, "control character"),
    ],
)
async def test_filters_never_pass_operators(
    service: Service, acme: Tenant, filters: dict[str, Any], fragment: str
) -> None:
    await make_bucket(service, acme)
    status, reply = await call(service, "POST", LIST, acme, {"filters": filters})
    assert status == 422, reply
    assert fragment in reply["error"]["message"]
    _clean(reply)


@pytest.mark.parametrize(
    "body",
    [{"sort": {"field": "$natural"}}, {"select": ["object_id", "$where"]}],
)
async def test_sort_and_select_never_name_operators(
    service: Service, acme: Tenant, body: dict[str, Any]
) -> None:
    await make_bucket(service, acme)
    status, reply = await call(service, "POST", LIST, acme, body)
    assert status == 422 and "holds '$'" in reply["error"]["message"], reply


async def _raw(
    service: Service, tenant: Tenant, path: str, data: bytes, **headers: str
) -> tuple[int, Any]:
    sent = {**tenant.headers(), "Content-Type": "application/json", **headers}
    async with service.http.post(path, data=data, headers=sent) as reply:
        return reply.status, await reply.json()


def _deep(levels: int) -> bytes:
    return b'{"metadata": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        (b'{"metadata": {"x": NaN}}', 422, "NaN and Infinity"),
        (b'{"metadata": {"x": -Infinity}}', 422, "NaN and Infinity"),
        (b'{"metadata": {"x": 1e400}}', 422, "too large"),
        (b'{"metadata": {"x": ' + b"9" * 5000 + b"}}", 422, "integers are 64-bit"),
        (_deep(10_000), 422, "nests more than 32 levels"),
        (_deep(40), 422, "nests more than 32 levels"),
        (b'{"metadata": {"a\\u0000b": 1}}', 422, "NUL character"),
        (b'{"metadata": {"$set": 1}}', 422, "starts with '$'"),
        (b'{"metadata": {"a.b": 1}}', 422, "contains '.'"),
        (b'{"title": {"$gt": 1}}', 422, "starts with '$'"),
        (json.dumps({"metadata": {"big": "x" * 5000}}).encode(), 413, "BUCKETD_MAX_METADATA_BYTES"),
        (b"[1, 2", 400, "Malformed JSON"),
    ],
)
async def test_bad_json_is_a_clear_4xx(
    service: Service, acme: Tenant, raw: bytes, status: int, fragment: str
) -> None:
    await make_bucket(service, acme)
    got, reply = await _raw(service, acme, "/v1/buckets/things/objects", raw)
    assert got == status, reply
    assert fragment in reply["error"]["message"], reply
    _clean(reply)
    _, listed = await call(service, "POST", LIST, acme, {})
    assert listed["results"] == []  # nothing was written


async def test_bad_json_over_grpc_is_refused_too(service: Service, acme: Tenant) -> None:
    """A gRPC client can send NaN inside a Struct; the server refuses it as the gateway does."""
    from grpc import aio  # noqa: PLC0415

    from bucketd.v1 import objects_pb2, objects_pb2_grpc  # noqa: PLC0415

    await make_bucket(service, acme)
    request = objects_pb2.CreateObjectRequest(bucket_identifier="things")
    request.metadata.update({"x": float("nan")})
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    with pytest.raises(aio.AioRpcError) as raised:
        await stub.CreateObject(request, metadata=acme.metadata())
    assert "NaN and Infinity" in (raised.value.details() or "")


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        ({"X-Namespace": "d\u00e9faut"}, 400, "printable ASCII"),
        ({"X-Namespace": "x" * 7000}, 400, "at most 256 characters"),
        ({"X-Request-Timeout": "nan"}, 400, "at least 0.001"),
        ({"X-Request-Timeout": "inf"}, 400, "at least 0.001"),
        ({"X-Request-Timeout": "-1"}, 400, "at least 0.001"),
        ({"X-Request-Timeout": "1e-300"}, 400, "at least 0.001"),
        ({"X-Padding": "p" * 20_000}, 431, "longer than 8190 bytes"),
    ],
)
async def test_bad_headers_are_a_clear_4xx(
    service: Service, acme: Tenant, headers: dict[str, str], status: int, fragment: str
) -> None:
    await make_bucket(service, acme)
    sent = {**acme.headers(), **headers}
    async with service.http.post(LIST, json={}, headers=sent) as reply:
        body = await reply.json()
        assert reply.status == status, body
    assert fragment in body["error"]["message"]
    _clean(body)


async def test_a_non_utf8_namespace_header_is_a_400(service: Service, acme: Tenant) -> None:
    host, port = service.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /v1/buckets/list HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        + f"Authorization: Bearer {acme.api_key}\r\n".encode()
        + b"X-Namespace: \xff\xfe\r\nConnection: close\r\n\r\n{}"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    assert status == 400, answer
    assert b'"success": false' in answer


async def test_inline_data_too_large_points_at_the_other_ways(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    big = "A" * (11 * 1024 * 1024 * 4 // 3)
    status, reply = await create(
        service, acme, {"blobs": [{"property": "notes", "type": "text", "data": {"base64": big}}]}
    )
    assert status == 413, reply
    message = reply["error"]["message"]
    assert "presigned upload" in message
    # the JSON body limit or the inline one, whichever this size meets first, names its way out
    assert "BUCKETD_HTTP_MAX_BODY_BYTES" in message or "BUCKETD_MAX_INLINE_BYTES" in message
    assert "objects/upload" in message or "streaming" in message
