"""A namespace deletion whose instance is killed halfway (kill -9) is finished by the next
instance: the task's lease runs out, a janitor runs it again from the start, and everything
the namespace held goes."""

from __future__ import annotations

import dataclasses
import signal
import urllib.request
from typing import Any

from pymongo import AsyncMongoClient

from bucketd.server.settings import Settings
from bucketd.standins.launch import s3_server
from tests.e2e.harness import until
from tests.e2e.objects_support import PDF, PNG, b64, s3_keys
from tests.faults.processes import bucketd, environment, issue_key, rest


def _put(url: str, data: bytes) -> None:
    request = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "application/pdf"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200


async def test_kill_9_mid_namespace_deletion_is_finished_after_a_restart(
    settings: Settings,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    database = client[settings.mongodb_database]
    try:
        with s3_server() as s3:
            own = dataclasses.replace(settings, s3_endpoint_url=s3.url)
            env = environment(own, BUCKETD_TASK_LEASE_SECONDS="1", BUCKETD_SWEEP_SECONDS="0.3")
            key = issue_key(env, "acme")
            with bucketd(env) as first:
                rest(first.rest, "POST", "/v1/namespaces", key, {"namespace_name": "default"})
                schema = {"properties": {"image": {"type": "image"}, "doc": {"type": "pdf"}}}
                body = {"bucket_name": "things", "bucket_schema": schema}
                rest(first.rest, "POST", "/v1/buckets", key, body)
                for _ in range(3):
                    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
                    rest(first.rest, "POST", "/v1/buckets/things/objects", key, {"blobs": [blob]})
                upload: Any = rest(
                    first.rest,
                    "POST",
                    "/v1/buckets/things/uploads",
                    key,
                    {
                        "filename": "a.pdf",
                        "content_type": "application/pdf",
                        "blob_property": "doc",
                    },
                )
                _put(upload["presigned_url"], PDF)
                namespace = await database["namespaces"].find_one({"namespace_name": "default"})
                assert namespace is not None
                namespace_id = namespace["_id"]
                # S3 freezes: the deletion gets as far as the upload's file, and hangs there
                s3.process.send_signal(signal.SIGSTOP)
                deletion: Any = rest(first.rest, "DELETE", "/v1/namespaces/default", key)
                assert deletion["status"] == "PENDING"
                scope = {"namespace_id": namespace_id}

                async def halfway() -> bool:
                    return await database["objects"].count_documents(scope) == 0

                await until(halfway)
                first.signal(signal.SIGKILL)
                first.process.wait()
            task = await database["tasks"].find_one({"_id": deletion["task_id"]})
            assert task is not None and task["status"] == "IN_PROGRESS"
            assert await database["uploads"].count_documents(scope) == 1  # not done
            s3.process.send_signal(signal.SIGCONT)
            with bucketd(env):

                async def finished() -> bool:
                    found = await database["tasks"].find_one({"_id": deletion["task_id"]})
                    return found is not None and found["status"] == "COMPLETED"

                await until(finished)
            done = await database["tasks"].find_one({"_id": deletion["task_id"]})
            assert done is not None and done["attempts"] == 2
            for name in ("buckets", "objects", "uploads", "claims", "contents"):
                assert await database[name].count_documents(scope) == 0, name
            assert await s3_keys(own) == []
    finally:
        await client.close()
