"""Issue 13, paged lists as the public docs type them: page numbers are strings, totals are only
counted when asked, and the GET aliases of the list calls take the documented query parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PNG, b64, call, make_bucket
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()


async def _buckets(service: Service, tenant: Tenant, names: list[str]) -> None:
    for name in names:
        await make_bucket(service, tenant, name)


async def test_offset_pages_answer_string_page_numbers_and_no_total_unless_asked(
    service: Service, acme: Tenant
) -> None:
    await _buckets(service, acme, ["b1", "b2", "b3", "b4", "b5"])
    sort = {"field": "bucket_name", "direction": "asc"}
    _, first = await call(service, "POST", "/v1/buckets/list", acme, {"limit": 2, "sort": sort})
    paging = first["pagination"]
    assert paging["next_page"] == "2" and paging["previous_page"] is None
    assert paging["total"] is None and paging["total_pages"] is None
    assert first["total_count"] == 5  # required by ListBucketsResponse: always counted

    _, counted = await call(
        service, "POST", "/v1/buckets/list?include_total=true", acme, {"limit": 2, "sort": sort}
    )
    assert counted["pagination"]["total"] == 5 and counted["pagination"]["total_pages"] == 3

    _, third = await call(
        service,
        "POST",
        "/v1/buckets/list?include_total=true&page=3",
        acme,
        {"limit": 2, "sort": sort},
    )
    assert [b["bucket_name"] for b in third["results"]] == ["b5"]
    assert third["pagination"]["previous_page"] == "2" and third["pagination"]["next_page"] is None
    assert third["pagination"]["total"] == 5

    _, namespaces = await call(service, "POST", "/v1/namespaces/list", acme, {"limit": 1})
    assert namespaces["pagination"]["total"] is None
    assert isinstance(namespaces["pagination"]["page"], int)


async def test_get_aliases_of_the_list_calls_take_the_query_parameters(
    service: Service, acme: Tenant
) -> None:
    await _buckets(service, acme, ["b1", "b2", "lamps"])
    status, listed = await call(service, "GET", "/v1/buckets?page_size=2&include_total=true", acme)
    assert status == 200 and len(listed["results"]) == 2
    assert listed["pagination"]["total"] == 3
    cursor = listed["pagination"]["next_cursor"]
    names = {b["bucket_name"] for b in listed["results"]}
    for parameter in ("cursor", "next_cursor", "after"):
        _, rest = await call(service, "GET", f"/v1/buckets?limit=2&{parameter}={cursor}", acme)
        assert {b["bucket_name"] for b in rest["results"]} | names == {"b1", "b2", "lamps"}
        assert rest["pagination"]["next_cursor"] is None
    _, searched = await call(service, "GET", "/v1/buckets?search=lamp", acme)
    assert [b["bucket_name"] for b in searched["results"]] == ["lamps"]
    _, offset = await call(service, "GET", "/v1/buckets?limit=1&offset=2", acme)
    assert len(offset["results"]) == 1 and offset["pagination"]["page"] == 3

    status, namespaces = await call(service, "GET", "/v1/namespaces?limit=5", acme)
    assert status == 200 and [n["namespace_name"] for n in namespaces["results"]] == ["default"]

    for _ in range(3):
        blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
        status, _ = await call(service, "POST", "/v1/buckets/b1/objects", acme, {"blobs": [blob]})
        assert status == 200
    seen: list[str] = []
    path = "/v1/buckets/b1/objects?limit=2"
    while path:
        status, page = await call(service, "GET", path, acme)
        assert status == 200
        seen += [o["object_id"] for o in page["results"]]
        cursor = page["pagination"]["next_cursor"]
        path = f"/v1/buckets/b1/objects?limit=2&cursor={cursor}" if cursor else ""
    assert len(seen) == len(set(seen)) == 3
    status, bad = await call(service, "GET", "/v1/buckets/b1/objects?limit=lots", acme)
    assert status == 422 and "limit" in bad["error"]["message"]


async def test_list_objects_stats_are_computed(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    image = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    note = {"property": "notes", "type": "text", "data": "hello"}
    bodies: list[dict[str, Any]] = [{"blobs": [image, note]}, {"blobs": [image]}, {"title": "x"}]
    for body in bodies:
        status, created = await call(service, "POST", "/v1/buckets/things/objects", acme, body)
        assert status == 200, created
        assert created["status"] == "PENDING"  # "not processed yet", not DRAFT
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list?limit=1", acme, {})
    assert listed["stats"] == {
        "total_objects": 3,
        "total_blobs": 3,
        "avg_blobs_per_object": 1.0,
        "objects_by_status": {"PENDING": 3},
    }
    filtered = {"filters": {"title": "x"}}
    _, only = await call(service, "POST", "/v1/buckets/things/objects/list", acme, filtered)
    assert only["stats"]["total_objects"] == 1 and only["stats"]["avg_blobs_per_object"] == 0.0
