"""Issue 39: bad input that answered 500 ("unavailable right now: retry shortly", though a retry
failed the same way) is a 4xx in the envelope that says what to fix; and aggregations on an
object's id group by it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp import web

from bucketd.server.domain.listing import encode_cursor
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, create, make_bucket, serving
from tests.shared_service import shared_service

LIST = "/v1/buckets/things/objects/list"
AGGREGATE = "/v1/buckets/things/objects/aggregate"


# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service(
    lambda settings: dataclasses.replace(settings, fetch_allowlist=("127.0.0.1/32",))
)


@pytest.mark.parametrize(
    "date", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00"]
)
async def test_a_keyset_cursor_whose_date_leaves_years_1_to_9999_is_a_422(
    service: Service, acme: Tenant, date: str
) -> None:
    await make_bucket(service, acme)
    cursor = encode_cursor({"c": date, "i": "x"})
    status, reply = await call(service, "POST", f"{LIST}?cursor={cursor}", acme, {})
    if date.endswith("00:00:00"):  # a date UTC holds: a position, before every object
        assert status == 200, reply
        return
    assert status == 422, reply
    assert "next_cursor" in reply["error"]["message"], reply


@pytest.mark.parametrize(
    "url", ["http://[zz]:80/a.pdf", "http://[::1:80/a.pdf", "https://host:99999/a.pdf"]
)
async def test_a_url_source_with_a_malformed_host_is_a_422(
    service: Service, acme: Tenant, url: str
) -> None:
    await make_bucket(service, acme)
    status, reply = await create(
        service, acme, {"blobs": [{"property": "doc", "type": "pdf", "data": url}]}
    )
    assert status == 422, reply
    assert "malformed" in reply["error"]["message"] and url in reply["error"]["message"], reply


@pytest.mark.parametrize("location", ["http://[zz]:80/a.pdf", "http://[::1:80/a.pdf"])
async def test_a_redirect_to_a_malformed_host_is_a_422(
    service: Service, acme: Tenant, location: str
) -> None:
    async def moved(_: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": location})

    app = web.Application()
    app.router.add_get("/a.pdf", moved)
    await make_bucket(service, acme)
    async with serving(app) as base:
        blob = {"property": "doc", "type": "pdf", "data": f"{base}/a.pdf"}
        status, reply = await create(service, acme, {"blobs": [blob]})
    assert status == 422, reply
    assert "redirected to a malformed URL" in reply["error"]["message"], reply


async def test_a_schema_past_its_size_limit_is_a_413_before_mongodb(
    service: Service, acme: Tenant
) -> None:
    enum = [f"value-{index}" for index in range(200_000)]
    schema = {"properties": {"kind": {"type": "string", "enum": enum}}}
    body = {"bucket_name": "huge", "bucket_schema": schema}
    status, reply = await call(service, "POST", "/v1/buckets", acme, body)
    assert status == 413, reply
    assert "limit of 1048576 bytes" in reply["error"]["message"], reply
    await make_bucket(service, acme)
    status, reply = await call(
        service, "PATCH", "/v1/buckets/things", acme, {"bucket_schema": schema}
    )
    assert status == 413, reply


@pytest.mark.parametrize("bound", ["Infinity", "-Infinity", "NaN"])
async def test_range_buckets_take_finite_boundaries_only(
    service: Service, acme: Tenant, bound: str
) -> None:
    await make_bucket(service, acme)
    body: dict[str, Any] = {
        "group_by": [{"field": "count"}],
        "aggregations": [{"function": "count", "alias": "n"}],
        "range_buckets": [{"field": "count", "boundaries": [0, bound]}],
    }
    status, reply = await call(service, "POST", AGGREGATE, acme, body)
    assert status == 422, reply
    assert "finite" in reply["error"]["message"], reply


async def test_group_by_object_id_answers_a_group_per_object(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    made = [(await create(service, acme, {"title": str(index)}))[1] for index in range(3)]
    body = {
        "group_by": [{"field": "object_id"}],
        "aggregations": [
            {"function": "count", "alias": "n"},
            {"function": "count_distinct", "alias": "ids", "field": "object_id"},
        ],
    }
    status, reply = await call(service, "POST", AGGREGATE, acme, body)
    assert status == 200, reply
    groups = {row["group"]["object_id"]: row["metrics"] for row in reply["results"]}
    assert groups == {item["object_id"]: {"n": 1, "ids": 1} for item in made}, reply


async def _raw_http(service: Service, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send `request` as bytes (no client library tidies it); the answer's status, headers and
    JSON body."""
    url = urlparse(service.http_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(request)
        await writer.drain()
        head, _, body = (await reader.read(-1)).partition(b"\r\n\r\n")
    finally:
        writer.close()
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /v1/buckets HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 140_000 + b"\r\n\r\n", 431),
        (b"GET /v1/buckets HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"GET /v1/buckets HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
        (b"GET /v1/" + b"a" * 140_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
    ],
)
async def test_what_the_http_parser_refuses_answers_in_the_envelope(
    service: Service, request_bytes: bytes, status: int
) -> None:
    answered, headers, body = await _raw_http(service, request_bytes)
    assert answered == status, body
    assert headers["Content-Type"].startswith("application/json"), headers
    assert body["success"] is False and body["status"] == status and body["error"]["message"]
