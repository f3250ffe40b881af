"""CreateObject end to end: every data form, bytes really in S3, dedup, limits and errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import ensure_bucket, open_s3
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import (
    PDF,
    PNG,
    b64,
    call,
    create,
    digest,
    file_server,
    make_bucket,
    s3_bytes,
    s3_keys,
    sha256,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits, so that the limit tests send little; one bucket readable by s3:// sources."""
    return dataclasses.replace(
        settings,
        max_inline_bytes=64 * 1024,
        max_blobs_per_object=8,
        s3_source_buckets=(f"{settings.s3_bucket}-src",),
    )


async def test_inline_forms_land_in_s3_with_their_hash(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    body = {
        "key_prefix": "/catalog/",
        "metadata": {"campaign": "spring"},
        "blobs": [
            {"property": "image", "type": "IMAGE", "data": f"data:image/png;base64,{b64(PNG)}"},
            {
                "property": "doc",
                "type": "pdf",
                "data": {"base64": b64(PDF), "filename": "spec.pdf"},
            },
            {"property": "title", "type": "string", "data": "Red sneaker"},
            {"property": "count", "type": "integer", "data": 3},
            {"property": "tags", "type": "array", "data": ["a", "b"]},
            {
                "property": "extra",
                "type": "object",
                "data": {"k": True},
                "metadata": {"source": "test"},
            },
        ],
    }
    status, created = await create(service, acme, body)
    assert status == 200, created
    assert created["object_id"].startswith("obj_")
    assert created["status"] == "PENDING" and created["error"] is None
    assert created["key_prefix"] == "/catalog"
    # user fields at the root, mirrored under metadata; blob metadata promoted among them
    assert created["campaign"] == "spring" and created["source"] == "test"
    assert created["metadata"] == {"campaign": "spring", "source": "test"}
    assert created["source_details"] == [{"type": "bucket", "source_id": created["bucket_id"]}]
    image, doc, title, count, tags, extra = created["blobs"]
    assert image["type"] == "image" and image["blob_id"].startswith("blob_")
    assert image["details"] == {
        "filename": "",
        "size_bytes": len(PNG),
        "mime_type": "image/png",
        "hash": digest(PNG),
    }
    assert doc["details"]["mime_type"] == "application/pdf"
    assert doc["details"]["filename"] == "spec.pdf"
    assert title["properties"]["data"] == "Red sneaker"
    assert count["properties"]["data"] == 3 and tags["properties"]["data"] == ["a", "b"]
    assert extra["properties"]["source"] == "test"
    for blob, content in ((image, PNG), (doc, PDF)):
        url = blob["properties"]["url"]
        assert url.startswith(f"s3://{settings.s3_bucket}/")
        assert await s3_bytes(settings, url) == content
        assert digest(await s3_bytes(settings, url)) == blob["details"]["hash"]
    hashes = "".join(b["details"]["hash"].removeprefix("sha256:") for b in created["blobs"])
    assert created["content_hash"] == sha256(hashes.encode())


async def test_user_fields_answer_at_the_root_and_under_metadata(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    body = {
        "title": "Red",
        "season": "spring",
        "blobs": [{"property": "title", "type": "string", "data": "x"}],
    }
    status, created = await create(service, acme, body)
    assert status == 200, created
    assert created["title"] == "Red" and created["season"] == "spring"
    assert created["metadata"] == {"title": "Red", "season": "spring"}
    status, got = await call(
        service, "GET", f"/v1/buckets/things/objects/{created['object_id']}", acme
    )
    assert got["title"] == "Red"


async def test_s3_source_is_copied_into_storage(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    (sources,) = settings.s3_source_buckets
    async with open_s3(settings) as s3:
        await ensure_bucket(s3, sources, region=settings.aws_region)
        await s3.put_object(Bucket=sources, Key="incoming/photo.png", Body=PNG)
    source = f"s3://{sources}/incoming/photo.png"
    status, created = await create(
        service, acme, {"blobs": [{"property": "image", "type": "image", "data": source}]}
    )
    assert status == 200, created
    blob = created["blobs"][0]
    assert blob["details"]["hash"] == digest(PNG)
    assert blob["properties"]["url"] != source
    assert await s3_bytes(settings, blob["properties"]["url"]) == PNG


async def test_identical_bytes_are_stored_once(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    first = (await create(service, acme, {"blobs": [blob]}))[1]
    second = (await create(service, acme, {"blobs": [blob]}))[1]
    assert first["object_id"] != second["object_id"]
    assert first["blobs"][0]["properties"]["url"] == second["blobs"][0]["properties"]["url"]
    assert len([k for k in await s3_keys(settings) if "/contents/" in k]) == 1


async def test_skip_duplicates_says_which_blob_was_skipped(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    png = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    pdf = {"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}
    first = (await create(service, acme, {"blobs": [png]}))[1]
    status, second = await create(service, acme, {"skip_duplicates": True, "blobs": [pdf, png]})
    assert status == 200, second
    assert [b["property"] for b in second["blobs"]] == ["doc"]
    assert second["skipped_blobs"] == [
        {
            "blob_index": 1,
            "property": "image",
            "hash": digest(PNG),
            "existing_object_id": first["object_id"],
        }
    ]


async def test_counts_follow_objects(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    blob = {"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}
    await create(service, acme, {"blobs": [blob]})
    _, created = await create(service, acme, {"blobs": [blob]})
    _, bucket = await call(service, "GET", "/v1/buckets/things", acme)
    assert bucket["object_count"] == 2 and bucket["total_size_bytes"] == 2 * len(PDF)
    assert bucket["last_upload_at"] is not None
    await call(service, "DELETE", f"/v1/buckets/things/objects/{created['object_id']}", acme)
    _, bucket = await call(service, "GET", "/v1/buckets/things", acme)
    assert bucket["object_count"] == 1 and bucket["total_size_bytes"] == len(PDF)
    _, namespace = await call(service, "GET", "/v1/namespaces/default", acme)
    assert namespace["object_count"] == 1


def _blob(**fields: Any) -> dict[str, Any]:
    return {"property": "image", "type": "image", **fields}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            {"blobs": [_blob(data={"base64": "!!not base64!!"})]},
            422,
            "blobs[0].data.base64: is not valid base64",
        ),
        (
            {"blobs": [_blob(property="nope", data="x")]},
            422,
            "blobs[0].property: 'nope' is not a field",
        ),
        (
            {"blobs": [_blob(type="video", data={"base64": b64(PNG)})]},
            422,
            "blobs[0].type: 'video' does not match",
        ),
        (
            {"blobs": [_blob(data={"base64": b64(PNG)}, upload_id="upl_1")]},
            422,
            "blobs[0]: give either data or upload_id",
        ),
        ({"blobs": [_blob(upload_id="upl_1")]}, 400, "blobs[0].upload_id"),
        ({"blobs": [_blob()]}, 422, "blobs[0]: give data or upload_id"),
        ({"blobs": [_blob(data="just words")]}, 422, "an image property takes a URL"),
        (
            {"blobs": [_blob(property="doc", type="pdf", data={"base64": b64(PNG)})]},
            422,
            "content of type image/png does not fit a pdf property",
        ),
        ({"key_prefix": "/a/../b", "blobs": []}, 422, "key_prefix '/a/../b' has an empty"),
        ({"key_prefix": "a//b", "blobs": []}, 422, "empty, '.' or '..' segment"),
        (
            {"blobs": [_blob(data={"base64": b64(b"x" * (64 * 1024 + 1))})]},
            413,
            "exceeds the limit of 65536 bytes",
        ),
        ({"blobs": [_blob(data={"base64": b64(PNG)})] * 9}, 413, "at most 8 blobs per object"),
        ({"blobs": [_blob(data="data:image/png,notbase64")]}, 422, "data URIs must look like"),
    ],
)
async def test_bad_requests_name_the_field(
    service: Service, acme: Tenant, body: dict[str, Any], status: int, fragment: str
) -> None:
    await make_bucket(service, acme)
    got, reply = await create(service, acme, body)
    assert got == status, reply
    assert fragment in reply["error"]["message"]
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    assert listed["results"] == []  # a refused request writes nothing


async def test_unknown_bucket_is_404(service: Service, acme: Tenant) -> None:
    status, reply = await create(service, acme, {"blobs": []}, bucket="missing")
    assert status == 404
    assert reply["error"]["message"] == "Bucket 'missing' not found in namespace 'default'"


async def test_private_urls_are_refused_without_the_allowlist(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    async with file_server({"a.png": PNG}) as base:
        for url in (f"{base}/a.png", "http://169.254.169.254/latest/meta-data/"):
            status, reply = await create(service, acme, {"blobs": [_blob(data=url)]})
            assert status == 422, reply
            assert "private, loopback or link-local" in reply["error"]["message"]
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    assert [o["status"] for o in listed["results"]] == ["FAILED", "FAILED"]
    assert all(o["blobs"] == [] and o["error"] for o in listed["results"])


async def test_url_without_canonicalize_is_referenced_as_is(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    url = "https://cdn.example.com/red.jpg"
    status, created = await create(
        service, acme, {"canonicalize_source": False, "blobs": [_blob(data={"url": url})]}
    )
    assert status == 200, created
    blob = created["blobs"][0]
    assert blob["properties"]["url"] == url
    assert blob["details"]["hash"] == "" and blob["details"]["filename"] == "red.jpg"


async def test_declared_fields_hold_their_type_and_images_hold_bytes(
    service: Service, acme: Tenant
) -> None:
    """`title` is declared string: 42 is refused naming it; an undeclared key is the caller's
    own field; an empty PNG is no image."""
    await make_bucket(service, acme)
    status, refused = await create(service, acme, {"title": 42, "blobs": []})
    assert status == 422, refused
    (problem,) = refused["error"]["details"]["validation_errors"]
    assert problem["location"] == ["body", "title"] and "must be a string" in problem["message"]
    status, kept = await create(service, acme, {"title": "ok", "mood": 42, "blobs": []})
    assert status == 200 and kept["mood"] == 42, kept
    empty = {"property": "image", "type": "image", "data": {"base64": "", "mime_type": "image/png"}}
    status, refused = await create(service, acme, {"blobs": [empty]})
    assert status == 422 and "an empty file is no image file" in refused["error"]["message"]
