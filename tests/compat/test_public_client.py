"""Issue 21 with the real peer: the public Python client (`mixpeek` 1.3.783 from PyPI, pinned),
unchanged, pointed at bucketd. It sends its models' defaults (`mode: "managed"` on every
namespace create, `auto_submit_batch: false` on every confirm) and parses every answer with its
own Pydantic models, so a shape bucketd gets wrong fails here as it would for a user.

The client is synchronous (urllib3): its calls run in a worker thread while the server runs on
the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import mixpeek
from mixpeek import (
    ApiClient,
    BucketCreateRequest,
    BucketObjectsApi,
    BucketsApi,
    BucketUploadsApi,
    BulkSoftDeleteRequest,
    Configuration,
    ConfirmUploadRequest,
    CreateNamespaceRequest,
    CreateUploadRequest,
    ListTasksRequest,
    NamespacesApi,
    TasksApi,
)

from tests.e2e.harness import Service, Tenant

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _client(service: Service, tenant: Tenant, namespace: str | None = None) -> ApiClient:
    client = ApiClient(Configuration(host=service.http_url))
    client.default_headers["Authorization"] = f"Bearer {tenant.api_key}"
    if namespace:
        client.default_headers["X-Namespace"] = namespace
    return client


def _bucket(name: str, schema: dict[str, Any]) -> BucketCreateRequest:
    request = BucketCreateRequest.from_dict({"bucket_name": name, "bucket_schema": schema})
    assert request is not None
    return request


async def _run[T](call: Callable[[], T]) -> T:
    return await asyncio.to_thread(call)


async def test_the_public_client_runs_the_presigned_workflow(
    service: Service, acme: Tenant
) -> None:
    """Create a namespace and a bucket, upload through a presigned URL, confirm, reference."""
    with _client(service, acme) as client:
        namespaces = NamespacesApi(client)
        created = await _run(
            lambda: namespaces.create_namespace(CreateNamespaceRequest(namespace_name="sdk-space"))
        )
        assert created.namespace_name == "sdk-space" and created.namespace_id
    with _client(service, acme, "sdk-space") as client:
        schema = {"properties": {"doc": {"type": "pdf"}, "title": {"type": "string"}}}
        bucket = await _run(lambda: BucketsApi(client).create_bucket(_bucket("papers", schema)))
        assert bucket.bucket_name == "papers" and bucket.object_count == 0
        uploads = BucketUploadsApi(client)
        upload = await _run(
            lambda: uploads.create_upload_buckets(
                "papers",
                CreateUploadRequest(
                    filename="paper.pdf",
                    content_type="application/pdf",
                    blob_property="doc",
                    object_metadata={"title": "from the public client"},
                ),
            )
        )
        assert upload.status == "PENDING" and upload.presigned_url
        async with (
            aiohttp.ClientSession() as raw,
            raw.put(
                upload.presigned_url, data=PDF, headers={"Content-Type": "application/pdf"}
            ) as put,
        ):
            assert put.status == 200
            etag = put.headers["ETag"]
        confirmed = await _run(
            lambda: uploads.confirm_upload_buckets(
                "papers", upload.upload_id, confirm_upload_request=ConfirmUploadRequest(etag=etag)
            )
        )
        object_id = confirmed.object_id
        assert confirmed.status == "COMPLETED" and object_id
        objects = BucketObjectsApi(client)
        got = await _run(lambda: objects.get_object_buckets("papers", object_id))
        assert got.blobs and got.blobs[0].details and got.blobs[0].details.size_bytes == len(PDF)
        listed = await _run(lambda: objects.list_objects_buckets("papers"))
        assert [o.object_id for o in listed.results] == [object_id]
        hidden = await _run(
            lambda: objects.bulk_soft_delete_objects_buckets(
                "papers",
                BulkSoftDeleteRequest(object_ids=[object_id], reason="sdk test"),
            )
        )
        assert (hidden.soft_deleted, hidden.requested, hidden.collections) == (1, 1, 0)


async def test_the_public_client_reads_tasks(service: Service, acme: Tenant) -> None:
    """A bucket deletion's task, as the public client's TaskResponse and ListTasksResponse."""
    with _client(service, acme, "default") as client:
        schema = {"properties": {"title": {"type": "string"}}}
        await _run(lambda: BucketsApi(client).create_bucket(_bucket("doomed", schema)))
        deletion = await _run(lambda: BucketsApi(client).delete_bucket("doomed"))
        assert isinstance(deletion, dict)  # the docs type this answer as a plain object
        tasks = TasksApi(client)
        task = await _run(lambda: tasks.get_task(deletion["task_id"]))
        assert task.task_type == mixpeek.TaskType.API_BUCKETS_DELETE
        listed = await _run(
            lambda: tasks.list_tasks(
                list_tasks_request=ListTasksRequest(task_type=mixpeek.TaskType.API_BUCKETS_DELETE)
            )
        )
        assert [t.task_id for t in listed.results] == [deletion["task_id"]]


async def test_the_public_clients_errors_carry_the_envelope(service: Service, acme: Tenant) -> None:
    with _client(service, acme, "default") as client:
        try:
            await _run(lambda: BucketsApi(client).get_bucket("missing"))
        except mixpeek.ApiException as error:
            assert error.status == 404 and "NotFoundError" in str(error.body)
        else:
            raise AssertionError("a missing bucket was found")
