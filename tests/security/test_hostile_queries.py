"""Issue 27, hostile input round two: queries that could stop the database for everyone, values
that reached MongoDB or a 5xx, and the protocol edges (headers, declared sizes, timeouts).
Each is provoked here and must answer a 4xx in the envelope that names what to fix."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import aiohttp
import pytest

from bucketd.logs import TextFormatter
from bucketd.server.domain.listing import encode_cursor
from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, create, make_bucket

LIST = "/v1/buckets/things/objects/list"
AGGREGATE = "/v1/buckets/things/objects/aggregate"
PATHOLOGICAL = ["^(a+)+$", "(a|aa)+$", "(x+x+)+y", "^(\\w+\\s?)*$", "(a*)*b"]


async def _filled(service: Service, tenant: Tenant, count: int = 3) -> None:
    await make_bucket(service, tenant)
    for index in range(count):
        status, made = await create(service, tenant, {"title": "a" * 26 + "!", "count": index})
        assert status == 200, made


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
async def test_a_catastrophic_regex_is_refused_before_it_runs(
    service: Service, acme: Tenant, pattern: str
) -> None:
    await _filled(service, acme)
    condition = {"field": "title", "operator": "regex", "value": pattern}
    status, reply = await call(service, "POST", LIST, acme, {"filters": condition})
    assert status == 422 and "exponential time" in reply["error"]["message"], reply
    body = {
        "group_by": [{"field": "title"}],
        "aggregations": [{"function": "count", "alias": "n"}],
        "filters": {"AND": [condition]},
    }
    status, reply = await call(service, "POST", AGGREGATE, acme, body)
    assert status == 422 and "exponential time" in reply["error"]["message"], reply
    fine = {"field": "title", "operator": "regex", "value": "^a+!$"}
    status, reply = await call(service, "POST", LIST, acme, {"filters": fine})
    assert status == 200 and len(reply["results"]) == 3


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The query-timeout test runs with a limit no query can meet (a microsecond)."""
    if "query_timeout" in request.node.name:
        return dataclasses.replace(settings, query_timeout_seconds=0.000001)
    return settings


async def test_a_query_past_its_query_timeout_is_a_400_naming_the_limit(
    service: Service, acme: Tenant
) -> None:
    await _filled(service, acme, count=20)
    condition = {"field": "title", "operator": "regex", "value": "^a+!$"}
    status, reply = await call(service, "POST", LIST, acme, {"filters": condition})
    assert status == 400 and reply["error"]["type"] == "BadRequestError", reply
    assert "BUCKETD_QUERY_TIMEOUT_SECONDS" in reply["error"]["message"]
    assert reply["error"]["details"]["reason"] == "QUERY_TOO_EXPENSIVE"


@pytest.mark.parametrize(
    ("position", "fragment"),
    [
        ({"o": 10**30}, "offset must be 0 to"),
        ({"o": 2**63}, "offset must be 0 to"),
        ({"o": -1}, "offset must be 0 to"),
        ({"o": True}, None),  # not an offset: the first page
        ({"o": 1.5}, None),
    ],
)
async def test_forged_cursors_never_reach_the_store(
    service: Service, acme: Tenant, position: dict[str, Any], fragment: str | None
) -> None:
    await _filled(service, acme, 1)
    for path in ("/v1/buckets/list", LIST, "/v1/buckets/things/uploads/list", "/v1/tasks/list"):
        status, reply = await call(
            service, "POST", f"{path}?cursor={encode_cursor(position)}", acme, {}
        )
        if fragment is None:
            assert status == 200, (path, reply)
        else:
            assert status == 422 and fragment in reply["error"]["message"], (path, reply)


async def test_deep_pages_are_refused_with_the_way_forward(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    status, reply = await call(service, "GET", "/v1/buckets?page=2147483647&limit=1000", acme)
    assert status == 422 and "next_cursor" in reply["error"]["message"], reply
    status, reply = await call(service, "POST", f"{LIST}?offset=100001", acme, {})
    assert status == 422 and "offset must be 0 to 100000" in reply["error"]["message"]


@pytest.mark.parametrize("name", ["nlb\n", "tab\there", "x\x00y", "trailing\r"])
async def test_names_with_control_characters_are_refused(
    service: Service, acme: Tenant, name: str
) -> None:
    schema = {"properties": {"title": {"type": "string"}}}
    status, reply = await call(
        service, "POST", "/v1/buckets", acme, {"bucket_name": name, "bucket_schema": schema}
    )
    assert status == 422 and "bucket_name" in reply["error"]["message"], reply
    status, reply = await call(service, "POST", "/v1/namespaces", acme, {"namespace_name": name})
    assert status == 422 and "namespace_name" in reply["error"]["message"], reply


async def test_aggregations_answer_public_fields_only(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    blob = {"property": "notes", "type": "text", "data": "hello"}
    await create(service, acme, {"title": "x", "blobs": [blob]})
    body: dict[str, Any] = {
        "group_by": [{"field": "title"}],
        "aggregations": [{"function": "push", "alias": "all", "field": "blobs"}],
    }
    status, reply = await call(service, "POST", AGGREGATE, acme, body)
    rows = reply.get("results", []) if status == 200 else []
    assert "storage_key" not in str(rows) and "content_id" not in str(rows), reply
    body = {**body, "unwind": "blobs", "group_by": [{"field": "blobs.type"}]}
    body["aggregations"] = [{"function": "count", "alias": "n"}]
    status, reply = await call(service, "POST", AGGREGATE, acme, body)
    assert status == 200 and reply["results"] == [
        {"group": {"blobs_type": "text"}, "metrics": {"n": 1}}
    ]


async def test_protocol_edges_answer_in_the_envelope(service: Service, acme: Tenant) -> None:
    headers = {**acme.headers(), **{f"X-Extra-{i}": "1" for i in range(120)}}
    async with service.http.get("/v1/buckets", headers=headers) as reply:
        body = await reply.json()
        assert reply.status == 431 and "more than 100 header fields" in body["error"]["message"]
    long = {**acme.headers(), "X-Long": "v" * 40_000}
    async with service.http.get("/v1/buckets", headers=long) as reply:
        body = await reply.json()
        assert reply.status == 431 and "X-Long" in body["error"]["message"]
    await make_bucket(service, acme)

    async def nothing() -> Any:
        yield b"%PDF"

    declared = {
        **acme.headers(),
        "Content-Length": str(6 * 1024**3),
        "Content-Type": "application/pdf",
    }
    async with (
        aiohttp.ClientSession() as raw,
        raw.post(
            f"{service.http_url}/v1/buckets/things/objects/upload?property=doc",
            data=nothing(),
            headers=declared,
        ) as reply,
    ):
        body = await reply.json()
        assert reply.status == 413 and "exceeds the limit" in body["error"]["message"], body


def test_the_text_log_never_starts_a_line_for_a_caller() -> None:
    forged = "/v1/x\nFORGED\tERROR\tbucketd.rpc rpc code=OK\r\x1b[2J"
    record = logging.LogRecord("bucketd.http", logging.INFO, "", 0, "GET %s", (forged,), None)
    record.path = forged
    line = TextFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\t" not in line and "\x1b" not in line
    assert "\\n" in line and "FORGED" in line  # still readable, escaped
