"""Issue 13, objects as the public docs describe them: text blobs, JSON for any property, one
place for user fields (blob metadata promoted there), checksums, PENDING."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, call, create, digest, make_bucket, s3_bytes
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()

TEXT = "The report is due Friday."


async def test_text_blobs_take_the_text_itself(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    for data in (TEXT, {"text": TEXT}):
        blob = {"property": "notes", "type": "text", "data": data}
        status, created = await create(service, acme, {"blobs": [blob]})
        assert status == 200, created
        stored = created["blobs"][0]
        assert stored["details"]["mime_type"].startswith("text/plain")
        assert stored["details"]["hash"] == digest(TEXT.encode())
        assert await s3_bytes(settings, stored["properties"]["url"]) == TEXT.encode()

    encoded = base64.b64encode(TEXT.encode()).decode()
    refused = {"property": "notes", "type": "text", "data": encoded}
    status, error = await create(service, acme, {"blobs": [refused]})
    assert status == 422 and error["error"]["type"] == "ValidationError"
    assert "base64" in error["error"]["message"]
    assert error["error"]["details"]["field"] == "blobs[0].data"
    for accepted in (
        f"data:text/plain;base64,{encoded}",
        {"base64": encoded, "mime_type": "text/plain"},
    ):
        blob = {"property": "notes", "type": "text", "data": accepted}
        status, created = await create(service, acme, {"blobs": [blob]})
        assert status == 200 and created["blobs"][0]["details"]["size_bytes"] == len(TEXT)
    status, error = await create(
        service,
        acme,
        {"blobs": [{"property": "notes", "type": "text", "data": "file:///etc/passwd"}]},
    )
    assert status == 422 and "file://" in error["error"]["message"]


async def test_the_seed_example_a_json_value_for_a_file_property(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    body = {
        "key_prefix": "/reports",
        "metadata": {"author": "ada"},
        "blobs": [
            {
                "property": "doc",
                "type": "PDF",
                "key_prefix": "/content.pdf",
                "data": {"num_pages": 5, "title": "Quarterly report"},
                "metadata": {"pages_checked": True},
            }
        ],
    }
    status, created = await create(service, acme, body)
    assert status == 200, created
    blob = created["blobs"][0]
    assert blob["type"] == "pdf" and blob["key_prefix"] == "/content.pdf"
    assert blob["details"]["mime_type"] == "application/json"
    assert blob["properties"]["data"] == {"num_pages": 5, "title": "Quarterly report"}
    stored = await s3_bytes(settings, blob["properties"]["url"])
    assert stored == b'{"num_pages":5,"title":"Quarterly report"}'
    assert created["author"] == "ada" and created["pages_checked"] is True


async def test_user_fields_live_in_one_place(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    image = {"base64": base64.b64encode(PDF).decode()}
    body: dict[str, Any] = {
        "metadata": {"title": "nested"},
        "blobs": [
            {
                "property": "doc",
                "type": "pdf",
                "data": image,
                "metadata": {"title": "blob", "lang": "en"},
            },
            {
                "property": "doc",
                "type": "pdf",
                "data": image,
                "metadata": {"lang": "fr", "status": "x"},
            },
        ],
    }
    status, created = await create(service, acme, body)
    assert status == 200, created
    # the explicit field wins, then the first blob; reserved names are never overwritten
    assert (created["title"], created["lang"], created["status"]) == ("nested", "en", "PENDING")
    path = f"/v1/buckets/things/objects/{created['object_id']}"
    status, patched = await call(service, "PATCH", path, acme, {"title": "patched", "mood": 1})
    assert status == 200, patched
    _, got = await call(service, "GET", path, acme)
    assert got["title"] == "patched" and got["metadata"]["title"] == "patched"
    assert got["mood"] == 1 and got["lang"] == "en"
    listed_filter = {"filters": {"title": "patched"}}
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, listed_filter)
    assert [o["object_id"] for o in listed["results"]] == [created["object_id"]]
    status, error = await create(service, acme, {"object_id": "obj_mine"})
    assert status == 422 and "object_id" in error["error"]["message"]


async def test_checksums_are_checked_and_answered_as_algorithm_colon_hash(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    data = {"base64": base64.b64encode(PDF).decode()}
    for checksum in (digest(PDF), digest(PDF).removeprefix("sha256:").upper()):
        blob = {"property": "doc", "type": "pdf", "data": data, "checksum": checksum}
        status, created = await create(service, acme, {"blobs": [blob]})
        assert status == 200, created
        assert created["blobs"][0]["details"]["hash"] == digest(PDF)
    wrong = {"property": "doc", "type": "pdf", "data": data, "checksum": "sha256:" + "0" * 64}
    status, error = await create(service, acme, {"blobs": [wrong]})
    assert status == 422 and error["error"]["details"]["field"] == "blobs[0].checksum"
    malformed = {"property": "doc", "type": "pdf", "data": data, "checksum": "md5:abc"}
    status, error = await create(service, acme, {"blobs": [malformed]})
    assert status == 422 and "sha256:<64 hex characters>" in error["error"]["message"]
    by_hash = {"filters": {"blobs.details.hash": digest(PDF)}}
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, by_hash)
    assert len(listed["results"]) == 2
    _, objects = await call(service, "GET", "/v1/buckets/things/objects", acme)
    assert objects["stats"]["objects_by_status"] == {"PENDING": 2}
