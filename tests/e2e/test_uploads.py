"""Presigned uploads through REST, with real HTTP PUTs to the presigned URL on the S3 server."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import (
    PDF,
    PNG,
    call,
    create,
    digest,
    make_bucket,
    s3_bytes,
    s3_keys,
    sha256,
)
from tests.s3_choice import s3_kind

BASE = "/v1/buckets/things/uploads"


async def _create(service: Service, tenant: Tenant, **fields: Any) -> tuple[int, Any]:
    body = {
        "filename": "spec.pdf",
        "content_type": "application/pdf",
        "blob_property": "doc",
        **fields,
    }
    return await call(service, "POST", BASE, tenant, body)


async def _put(url: str, data: bytes, content_type: str = "application/pdf") -> str:
    async with (
        aiohttp.ClientSession() as client,
        client.put(url, data=data, headers={"Content-Type": content_type}) as reply,
    ):
        assert reply.status == 200, await reply.text()
        return reply.headers["ETag"].strip('"')


async def _confirm(
    service: Service, tenant: Tenant, upload_id: str, query: str = "", **body: Any
) -> tuple[int, Any]:
    return await call(service, "POST", f"{BASE}/{upload_id}/confirm{query}", tenant, body)


async def _set(settings: Settings, upload_id: str, **changes: Any) -> None:
    """Move an upload's clock: what a test cannot wait for (expiry, a dead server's lease)."""
    assert settings.mongodb_uri
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    await client[settings.mongodb_database]["uploads"].update_one(
        {"_id": upload_id}, {"$set": changes}
    )
    await client.close()


async def test_create_put_confirm_creates_the_object(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    status, upload = await _create(
        service,
        acme,
        file_size_bytes=len(PDF),
        object_metadata={"category": "docs"},
        metadata={"batch": "b1"},
    )
    assert status == 200, upload
    assert upload["upload_id"].startswith("upl_") and upload["status"] == "PENDING"
    assert upload["presigned_url"].startswith("http")
    assert upload["presigned_url_expiration"] == 3600 and upload["blob_type"] == "PDF"
    assert upload["s3_key"].endswith(f"/api_buckets_uploads_create/{upload['upload_id']}/spec.pdf")
    assert upload["is_duplicate"] is False and upload["expires_at"] > upload["created_at"]
    etag = await _put(upload["presigned_url"], PDF)
    status, confirmed = await _confirm(
        service, acme, upload["upload_id"], etag=etag, file_size_bytes=len(PDF)
    )
    assert status == 200, confirmed
    assert confirmed["status"] == "COMPLETED" and confirmed["file_hash"] == sha256(PDF)
    assert confirmed["etag"] == etag and confirmed["verified_at"] and confirmed["completed_at"]
    _, obj = await call(
        service, "GET", f"/v1/buckets/things/objects/{confirmed['object_id']}", acme
    )
    assert obj["metadata"] == {"category": "docs"}
    blob = obj["blobs"][0]
    assert blob["property"] == "doc" and blob["details"]["hash"] == digest(PDF)
    assert await s3_bytes(settings, blob["properties"]["url"]) == PDF
    # the uploaded file became the blob where it was put: one object in S3, nothing copied
    assert await s3_keys(settings) == [upload["s3_key"]]
    assert blob["properties"]["url"].endswith(upload["s3_key"])
    status, again = await _confirm(service, acme, upload["upload_id"])
    assert status == 200 and again == confirmed  # confirming again answers the same result


async def test_confirm_refusals_keep_the_upload_pending(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    upload_id = upload["upload_id"]
    status, nothing = await _confirm(service, acme, upload_id)
    assert status == 400 and "Nothing was uploaded" in nothing["error"]["message"]
    await _put(upload["presigned_url"], PDF)
    status, wrong_etag = await _confirm(service, acme, upload_id, etag="0" * 32)
    assert (
        status == 400
        and "does not match the uploaded file's ETag" in wrong_etag["error"]["message"]
    )
    status, wrong_size = await _confirm(service, acme, upload_id, file_size_bytes=1)
    assert status == 400 and "file_size_bytes 1 does not match" in wrong_size["error"]["message"]
    _, still = await call(service, "GET", f"{BASE}/{upload_id}", acme)
    assert still["status"] == "PENDING"
    assert (await _confirm(service, acme, upload_id))[1]["status"] == "COMPLETED"


async def test_wrong_content_type_at_put_is_refused(service: Service, acme: Tenant) -> None:
    """The Content-Type is signed: a real S3 refuses the PUT itself (then nothing was
    uploaded); moto stores it, and the confirm's check refuses the file. Either way: 400 that
    says why, and no object."""
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    headers = {"Content-Type": "text/plain"}
    async with (
        aiohttp.ClientSession() as client,
        client.put(upload["presigned_url"], data=PDF, headers=headers) as reply,
    ):
        stored = reply.status == 200
    status, refused = await _confirm(service, acme, upload["upload_id"])
    why = "not as the signed application/pdf" if stored else "Nothing was uploaded"
    assert status == 400 and why in refused["error"]["message"]
    assert stored == (s3_kind() == "moto")
    _, listed = await call(service, "GET", "/v1/buckets/things/objects", acme)
    assert listed["results"] == []


async def test_expired_upload_is_refused_then_swept(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    await _put(upload["presigned_url"], PDF)
    await _set(settings, upload["upload_id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    status, reply = await _confirm(service, acme, upload["upload_id"])
    assert status == 400 and "expired" in reply["error"]["message"]
    assert await service.services.confirmations.sweep() == (1, 0)
    _, swept = await call(service, "GET", f"{BASE}/{upload['upload_id']}", acme)
    assert swept["status"] == "FAILED" and "expired" in swept["message"]
    assert not [k for k in await s3_keys(settings) if upload["upload_id"] in k]


async def test_duplicate_by_hash_answers_the_existing_upload(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    _, first = await _create(service, acme, file_hash=sha256(PDF))
    await _put(first["presigned_url"], PDF)
    _, confirmed = await _confirm(service, acme, first["upload_id"])
    status, duplicate = await _create(service, acme, file_hash=sha256(PDF))
    assert status == 200
    assert duplicate["is_duplicate"] is True and duplicate["presigned_url"] is None
    assert duplicate["duplicate_of_upload_id"] == first["upload_id"]
    assert duplicate["existing_object_id"] == confirmed["object_id"]
    _, fresh = await _create(service, acme, file_hash=sha256(PDF), skip_duplicates=False)
    assert fresh["is_duplicate"] is False and fresh["presigned_url"]


async def test_async_confirm_completes_in_the_background(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    await _put(upload["presigned_url"], PDF)
    status, pending = await _confirm(service, acme, upload["upload_id"], query="?async=true")
    assert status == 200 and pending["status"] == "PROCESSING" and pending["task_id"]
    await service.services.confirmations.drain()
    _, done = await call(service, "GET", f"{BASE}/{upload['upload_id']}", acme)
    assert (
        done["status"] == "COMPLETED"
        and done["object_id"]
        and done["task_id"] == pending["task_id"]
    )


async def test_an_async_confirm_is_a_task_a_client_can_poll(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    """The docs' client polls GET /v1/tasks/{task_id} after ?async=true."""
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    await _put(upload["presigned_url"], PDF)
    _, pending = await _confirm(service, acme, upload["upload_id"], query="?async=true")
    await service.services.confirmations.drain()
    status, task = await call(service, "GET", f"/v1/tasks/{pending['task_id']}", acme)
    assert status == 200 and task["task_type"] == "api_buckets_uploads_confirm"
    assert task["status"] == "COMPLETED" and task["inputs"] == [
        {"bucket_id": upload["bucket_id"], "upload_id": upload["upload_id"]}
    ]
    _, done = await call(service, "GET", f"{BASE}/{upload['upload_id']}", acme)
    assert task["outputs"][0]["object_id"] == done["object_id"]
    assert (await call(service, "GET", f"/v1/tasks/{pending['task_id']}", globex))[0] == 404
    status, refused = await call(service, "DELETE", f"/v1/tasks/{pending['task_id']}", acme)
    assert status == 200 and refused["task"]["status"] == "COMPLETED"  # finished: as it is


async def test_a_dead_servers_confirm_is_finished_by_the_sweep(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    await _put(upload["presigned_url"], PDF)
    await _set(
        settings,
        upload["upload_id"],
        status="PROCESSING",
        task_id="task_dead",
        lease_until=datetime.now(UTC) - timedelta(seconds=1),
    )
    assert await service.services.confirmations.sweep() == (0, 1)
    _, done = await call(service, "GET", f"{BASE}/{upload['upload_id']}", acme)
    assert done["status"] == "COMPLETED" and done["file_hash"] == sha256(PDF)


async def test_upload_referenced_by_create_object(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    _, upload = await _create(service, acme, create_object_on_confirm=False)
    _, pending = await create(
        service,
        acme,
        {"blobs": [{"property": "doc", "type": "pdf", "upload_id": upload["upload_id"]}]},
    )
    assert pending["status"] == 400 and "is PENDING" in pending["error"]["message"]
    await _put(upload["presigned_url"], PDF)
    _, confirmed = await _confirm(service, acme, upload["upload_id"])
    assert confirmed["status"] == "COMPLETED" and confirmed["object_id"] is None
    status, obj = await create(
        service,
        acme,
        {"blobs": [{"property": "doc", "type": "pdf", "upload_id": upload["upload_id"]}]},
    )
    assert status == 200, obj
    assert obj["blobs"][0]["details"]["hash"] == digest(PDF)
    status, foreign = await create(
        service, acme, {"blobs": [{"property": "doc", "type": "pdf", "upload_id": "upl_nope"}]}
    )
    assert (
        status == 400
        and "blobs[0].upload_id: upload 'upl_nope' not found" in foreign["error"]["message"]
    )


async def test_cancel(service: Service, acme: Tenant, settings: Settings) -> None:
    await make_bucket(service, acme)
    _, upload = await _create(service, acme)
    await _put(upload["presigned_url"], PDF)
    status, _ = await call(service, "DELETE", f"{BASE}/{upload['upload_id']}", acme)
    assert status == 204
    _, cancelled = await call(service, "GET", f"{BASE}/{upload['upload_id']}", acme)
    assert cancelled["status"] == "CANCELED"
    assert not [k for k in await s3_keys(settings) if upload["upload_id"] in k]
    status, reply = await _confirm(service, acme, upload["upload_id"])
    assert status == 400 and "CANCELED" in reply["error"]["message"]
    _, done = await _create(service, acme)
    await _put(done["presigned_url"], PDF)
    await _confirm(service, acme, done["upload_id"])
    status, refused = await call(service, "DELETE", f"{BASE}/{done['upload_id']}", acme)
    assert status == 400 and "COMPLETED and cannot be cancelled" in refused["error"]["message"]


async def test_create_validation(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"filename": "../etc/passwd"}, "filename"),
        ({"filename": "a" * 256}, "filename: must be 1 to 255"),
        ({"content_type": "pdf"}, "content_type: 'pdf' is not a MIME type"),
        ({"blob_property": "nope"}, "blob_property: 'nope' is not a field"),
        ({"content_type": "image/png"}, "image/png does not fit the pdf property 'doc'"),
        ({"presigned_url_expiration": 10}, "presigned_url_expiration: must be 60 to 86400"),
        ({"file_hash": "abc"}, "file_hash: must be 64"),
    ]
    for fields, fragment in cases:
        status, reply = await _create(service, acme, **fields)
        assert status == 422, (fields, reply)
        assert fragment in reply["error"]["message"], reply
    status, big = await _create(service, acme, file_size_bytes=6 * 1024**3)
    assert status == 413 and "exceeds the upload limit" in big["error"]["message"]


async def test_list_batch_and_batch_confirm(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    body = {
        "uploads": [
            {
                "filename": "a.pdf",
                "content_type": "application/pdf",
                "blob_property": "doc",
                "metadata": {"n": 1},
            },
            {"filename": "b.png", "content_type": "image/png", "blob_property": "image"},
        ],
        "shared_metadata": {"campaign": "x", "n": 0},
    }
    status, batch = await call(service, "POST", f"{BASE}/batch", acme, body)
    assert status == 200 and batch["total"] == 2
    first, second = batch["uploads"]
    assert first["metadata"] == {"campaign": "x", "n": 1} and second["metadata"]["n"] == 0
    await _put(first["presigned_url"], PDF)
    await _put(second["presigned_url"], PNG, content_type="image/png")
    confirmations = {
        "confirmations": [{"upload_id": first["upload_id"]}, {"upload_id": second["upload_id"]}]
    }
    status, task = await call(service, "POST", f"{BASE}/confirm/batch", acme, confirmations)
    assert status == 200 and task["status"] == "PENDING" and task["confirmations_count"] == 2
    assert task["task"]["task_type"] == "api_buckets_uploads_batch_confirm"
    await service.services.tasks.drain()
    _, done = await call(service, "GET", f"/v1/tasks/{task['task_id']}", acme)
    assert done["status"] == "COMPLETED"
    assert {u["status"] for u in done["outputs"][0]["uploads"].values()} == {"COMPLETED"}
    status, listed = await call(service, "POST", f"{BASE}/list", acme, {"search": "b.png"})
    assert status == 200 and [u["filename"] for u in listed["results"]] == ["b.png"]
    _, everything = await call(service, "POST", f"{BASE}/list", acme, {})
    assert [u["filename"] for u in everything["results"]] == ["b.png", "a.pdf"]  # newest first
    assert everything["stats"]["uploads_by_status"] == {"COMPLETED": 2}
    assert everything["stats"]["total_uploads"] == 2
    assert hashlib.sha256(PDF).hexdigest() in {u["file_hash"] for u in everything["results"]}
