"""Issue 13, tasks as the public docs describe them: deleting a namespace (with everything in
it) or a bucket, and confirming uploads in a batch, run as tasks a caller polls; a task left by
a dead instance is finished by another; tasks are scoped to their organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.status import Status
from bucketd.server.domain.tasks import TaskRecord, TaskType
from bucketd.server.settings import Settings
from bucketd.server.storage.tasks import MongoTasks
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, PNG, b64, call, make_bucket, s3_bytes, s3_keys

COLLECTIONS = ("buckets", "objects", "uploads", "claims", "contents")


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    assert settings.mongodb_uri
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        yield client[settings.mongodb_database]
    finally:
        await client.close()


async def _finished(service: Service, tenant: Tenant, task_id: str) -> dict[str, Any]:
    await service.services.tasks.drain()
    status, task = await call(service, "GET", f"/v1/tasks/{task_id}", tenant)
    assert status == 200, task
    return dict(task)


async def _fill(service: Service, tenant: Tenant, namespace: str) -> dict[str, Any]:
    """A bucket holding objects, a confirmed and a pending upload, and an open upload session."""
    headers = tenant.headers(namespace)
    schema = {"properties": {"image": {"type": "image"}, "doc": {"type": "pdf"}}}
    bucket = {"bucket_name": "things", "bucket_schema": schema}
    async with service.http.post("/v1/buckets", json=bucket, headers=headers) as reply:
        assert reply.status == 200
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    async with service.http.post(
        "/v1/buckets/things/objects", json={"blobs": [blob], "k": 1}, headers=headers
    ) as reply:
        created = await reply.json()
        assert reply.status == 200, created
        assert isinstance(created, dict)
    for name in ("done.pdf", "waiting.pdf"):
        body = {"filename": name, "content_type": "application/pdf", "blob_property": "doc"}
        async with service.http.post(
            "/v1/buckets/things/uploads", json=body, headers=headers
        ) as reply:
            upload = await reply.json()
        async with aiohttp.ClientSession() as raw:
            put = {"Content-Type": "application/pdf"}
            async with raw.put(upload["presigned_url"], data=PDF, headers=put) as stored:
                assert stored.status == 200
        if name == "done.pdf":
            path = f"/v1/buckets/things/uploads/{upload['upload_id']}/confirm"
            async with service.http.post(path, json={}, headers=headers) as reply:
                assert (await reply.json())["status"] == "COMPLETED"
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    header = pb.UploadObjectHeader(
        bucket_identifier="things",
        blobs=[pb.UploadBlobHeader(property="doc", mime_type="application/pdf")],
    )
    await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=header), metadata=tenant.metadata(namespace)
    )
    return created


async def test_deleting_a_namespace_deletes_everything_in_it_and_nothing_else(
    service: Service,
    acme: Tenant,
    globex: Tenant,
    settings: Settings,
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    _, doomed = await call(service, "POST", "/v1/namespaces", acme, {"namespace_name": "doomed"})
    await _fill(service, acme, "doomed")
    kept = await _fill(service, acme, "default")
    namespace_id = doomed["namespace_id"]
    assert await s3_keys(settings, f"{namespace_id}/")

    status, deletion = await call(service, "DELETE", "/v1/namespaces/doomed", acme)
    assert status == 200 and deletion["status"] == "PENDING"
    assert deletion["namespace_id"] == namespace_id
    assert (await call(service, "GET", "/v1/namespaces/doomed", acme))[0] == 404
    # another organization cannot read the task
    assert (await call(service, "GET", f"/v1/tasks/{deletion['task_id']}", globex))[0] == 404

    task = await _finished(service, acme, deletion["task_id"])
    assert task["status"] == "COMPLETED" and task["task_type"] == "api_namespaces_delete"
    progress = task["additional_data"]
    # an object, the one the confirmed upload became, and the open session
    assert progress["buckets_deleted"] == 1 and progress["objects_deleted"] == 3
    assert progress["uploads_deleted"] == 2 and progress["files_deleted"] >= 1
    for name in COLLECTIONS:
        assert await database[name].count_documents({"namespace_id": namespace_id}) == 0, name
    org = await database["namespaces"].find_one({"namespace_name": "default"}) or {}
    assert await s3_keys(settings, f"{namespace_id}/") == []
    assert await s3_keys(settings, f"{org['organization_id']}/{namespace_id}/") == []
    # the other namespace keeps its objects and bytes
    _, still = await call(service, "GET", f"/v1/buckets/things/objects/{kept['object_id']}", acme)
    assert await s3_bytes(settings, still["blobs"][0]["properties"]["url"]) == PNG
    _, uploads = await call(service, "POST", "/v1/buckets/things/uploads/list", acme, {})
    assert len(uploads["results"]) == 2
    # the name is free again
    status, _ = await call(service, "POST", "/v1/namespaces", acme, {"namespace_name": "doomed"})
    assert status == 200


async def test_a_task_a_dead_instance_left_is_finished_by_a_janitor(
    service: Service, acme: Tenant, database: AsyncDatabase[dict[str, Any]]
) -> None:
    await make_bucket(service, acme)
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    for _ in range(3):
        await call(service, "POST", "/v1/buckets/things/objects", acme, {"blobs": [blob]})
    _, bucket = await call(service, "GET", "/v1/buckets/things", acme)
    # What an instance killed halfway through a bucket deletion leaves: the task IN_PROGRESS
    # under a lease that ran out, the bucket record gone, its objects still there.
    now = datetime.now(UTC)
    namespace = await database["namespaces"].find_one({"namespace_name": "default"})
    assert namespace is not None
    dead = TaskRecord(
        task_id="task_leftbyadeadone",
        organization_id=namespace["organization_id"],
        namespace_id=namespace["_id"],
        task_type=TaskType.DELETE_BUCKET,
        status=Status.IN_PROGRESS,
        inputs={"namespace_id": namespace["_id"], "bucket_id": bucket["bucket_id"]},
        additional_data={"objects_deleted": 0},
        created_at=now - timedelta(minutes=5),
        updated_at=now - timedelta(minutes=5),
        lease_until=now - timedelta(seconds=1),
        attempts=1,
    )
    await MongoTasks(database).insert(dead)
    await database["buckets"].delete_one({"_id": bucket["bucket_id"]})

    report = await service.services.janitor.sweep()
    assert report.tasks_resumed == 1
    task = await _finished(service, acme, dead.task_id)
    assert task["status"] == "COMPLETED" and task["additional_data"]["objects_deleted"] == 3
    assert await database["objects"].count_documents({"bucket_id": bucket["bucket_id"]}) == 0
    assert (await service.services.janitor.sweep()).tasks_resumed == 0  # done once


async def test_deleting_a_bucket_answers_a_pending_task_then_completes(
    service: Service, acme: Tenant, database: AsyncDatabase[dict[str, Any]]
) -> None:
    created = await make_bucket(service, acme)
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    for _ in range(2):
        await call(service, "POST", "/v1/buckets/things/objects", acme, {"blobs": [blob]})
    status, deletion = await call(service, "DELETE", "/v1/buckets/things", acme)
    assert status == 200 and deletion["status"] == "PENDING" and deletion["object_count"] == 2
    assert (await call(service, "GET", "/v1/buckets/things", acme))[0] == 404
    task = await _finished(service, acme, deletion["task_id"])
    assert task["status"] == "COMPLETED" and task["outputs"][0]["objects_deleted"] == 2
    assert task["inputs"][0]["bucket_id"] == created["bucket_id"]
    assert await database["objects"].count_documents({"bucket_id": created["bucket_id"]}) == 0
    await make_bucket(service, acme)  # the name is free again


async def test_batch_confirm_is_a_task_reporting_each_upload(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    ids = []
    for index in range(2):
        body = {
            "filename": f"{index}.pdf",
            "content_type": "application/pdf",
            "blob_property": "doc",
        }
        _, upload = await call(service, "POST", "/v1/buckets/things/uploads", acme, body)
        ids.append(upload["upload_id"])
        if index == 0:
            async with aiohttp.ClientSession() as raw:
                headers = {"Content-Type": "application/pdf"}
                async with raw.put(upload["presigned_url"], data=PDF, headers=headers) as put:
                    assert put.status == 200
    confirmations = {"confirmations": [{"upload_id": upload_id} for upload_id in ids]}
    status, batch = await call(
        service, "POST", "/v1/buckets/things/uploads/confirm/batch", acme, confirmations
    )
    assert status == 200 and set(batch["task"]) >= {"task_id", "task_type", "status"}
    assert batch["task"]["task_id"] == batch["task_id"]
    task = await _finished(service, acme, batch["task_id"])
    assert task["status"] == "COMPLETED_WITH_ERRORS"
    done, missing = (task["outputs"][0]["uploads"][upload_id] for upload_id in ids)
    assert done["status"] == "COMPLETED" and done["object_id"].startswith("obj_")
    assert missing["status"] == "FAILED" and "PUT the file" in missing["error"]
    assert task["additional_data"] == {"completed": 1, "failed": 1}


async def test_tasks_are_listed_and_killed_as_the_docs_say(
    service: Service, acme: Tenant, globex: Tenant, database: AsyncDatabase[dict[str, Any]]
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, acme, "second")
    _, deletion = await call(service, "DELETE", "/v1/buckets/second", acme)
    await _finished(service, acme, deletion["task_id"])
    status, listed = await call(
        service, "POST", "/v1/tasks/list", acme, {"filters": {"task_type": "api_buckets_delete"}}
    )
    assert status == 200 and [t["task_id"] for t in listed["results"]] == [deletion["task_id"]]
    body = {"task_type": "api_buckets_delete", "status": "COMPLETED"}
    status, listed = await call(service, "POST", "/v1/tasks/list", acme, body)
    assert status == 200 and [t["task_id"] for t in listed["results"]] == [deletion["task_id"]]
    body = {"task_type": "api_buckets_delete", "status": "FAILED"}
    status, listed = await call(service, "POST", "/v1/tasks/list", acme, body)
    assert status == 200 and listed["results"] == []
    _, theirs = await call(service, "POST", "/v1/tasks/list", globex, {})
    assert theirs["results"] == []
    # a finished task answers as it is; a running deletion cannot be stopped halfway
    status, killed = await call(service, "DELETE", f"/v1/tasks/{deletion['task_id']}", acme)
    assert status == 200 and killed["success"] is True
    assert killed["task"]["status"] == "COMPLETED"
    now = datetime.now(UTC)
    running = {
        "_id": "task_runningconfirm",
        "organization_id": (await database["tasks"].find_one({}) or {})["organization_id"],
        "namespace_id": None,
        "task_type": "confirm_uploads",  # the name bucketd 0.x gave it: still read
        "status": "IN_PROGRESS",
        "inputs": {},
        "outputs": {},
        "additional_data": {},
        "error": None,
        "created_at": now,
        "updated_at": now,
        "lease_until": now + timedelta(minutes=5),
        "attempts": 1,
    }
    await database["tasks"].insert_one(running)
    assert (await call(service, "DELETE", "/v1/tasks/task_runningconfirm", globex))[0] == 404
    status, killed = await call(service, "DELETE", "/v1/tasks/task_runningconfirm", acme)
    assert status == 200 and killed["task"]["status"] == "CANCELED"
    assert killed["task"]["task_type"] == "api_buckets_uploads_batch_confirm"
    await database["tasks"].update_one(
        {"_id": deletion["task_id"]}, {"$set": {"status": "IN_PROGRESS"}}
    )
    status, refused = await call(service, "DELETE", f"/v1/tasks/{deletion['task_id']}", acme)
    assert status == 400 and "cannot stop halfway" in refused["error"]["message"]
