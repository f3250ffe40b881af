"""AsyncClient: bucketd's gRPC API with the REST API's JSON shapes in and out.

Requests are dicts spelled as the REST bodies are (`{"bucket_name": …, "bucket_schema": …}`,
`"type": "image"`), answers are the REST JSON; `stubs` keeps the generated stubs at hand for
anything else. Calls that failed to reach a working server (UNAVAILABLE) are retried with
backoff when a retry cannot do twice what the first attempt may have done: reads, lists,
confirms, and object creates, which carry an idempotency key (one is made when none is given)
so that a retry answers the object the first attempt made. Creates without a key (namespaces,
buckets, presigned uploads) and deletes are not retried: their UNAVAILABLE reaches the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import grpc
from google.protobuf.message import Message
from grpc import aio

from bucketd.client import reach, reads, transfer
from bucketd.client.errors import InvalidArgument, Unavailable, from_rpc_error
from bucketd.client.retries import RetryPolicy, retrying
from bucketd.client.settings import ClientSettings
from bucketd.codec import MarshalError, parse_request, to_json
from bucketd.v1 import (
    buckets_pb2,
    buckets_pb2_grpc,
    namespaces_pb2,
    namespaces_pb2_grpc,
    objects_pb2,
    objects_pb2_grpc,
    tasks_pb2,
    tasks_pb2_grpc,
    uploads_pb2,
    uploads_pb2_grpc,
)

Progress = transfer.Progress
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


class Stubs:
    """The generated stubs on the client's channel (metadata: `AsyncClient.metadata()`)."""

    def __init__(self, channel: aio.Channel) -> None:
        self.namespaces = namespaces_pb2_grpc.NamespaceServiceStub(channel)
        self.buckets = buckets_pb2_grpc.BucketServiceStub(channel)
        self.objects = objects_pb2_grpc.ObjectServiceStub(channel)
        self.uploads = uploads_pb2_grpc.UploadServiceStub(channel)
        self.tasks = tasks_pb2_grpc.TaskServiceStub(channel)


def _request[M: Message](kind: type[M], fields: dict[str, Any]) -> M:
    """A request message from REST-spelled fields; a local mistake is InvalidArgument."""
    try:
        return parse_request(kind, {k: v for k, v in fields.items() if v is not None})
    except MarshalError as error:
        raise InvalidArgument(str(error)) from None


def channel_options(settings: ClientSettings) -> list[tuple[str, str | int]]:
    """The channel's options: message sizes, and the balancing policy when one is chosen."""
    options: list[tuple[str, str | int]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    if settings.load_balancing:
        options.append(("grpc.lb_policy_name", settings.load_balancing))
    return options


def _channel(settings: ClientSettings) -> aio.Channel:
    options = channel_options(settings)
    if not settings.tls:
        return aio.insecure_channel(settings.address, options=options)
    roots = settings.ca_file.read_bytes() if settings.ca_file else None
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    return aio.secure_channel(settings.address, credentials, options=options)


class AsyncClient:
    """`async with AsyncClient(api_key=…, namespace=…) as client:` — see ClientSettings for
    the environment variables each argument falls back to."""

    def __init__(
        self,
        address: str | None = None,
        *,
        api_key: str | None = None,
        namespace: str | None = None,
        tls: bool | None = None,
        ca_file: str | Path | None = None,
        load_balancing: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self.settings = ClientSettings.resolve(
            address=address,
            api_key=api_key,
            namespace=namespace,
            tls=tls,
            ca_file=ca_file,
            load_balancing=load_balancing,
        )
        if not self.settings.api_key:
            raise ValueError("bucketd needs an API key: pass api_key= or set BUCKETD_API_KEY")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._channel = _channel(self.settings)
        self.stubs = Stubs(self._channel)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(grace=None)

    def metadata(self, *, namespaced: bool = True) -> tuple[tuple[str, str], ...]:
        key = (("authorization", f"Bearer {self.settings.api_key}"),)
        return (*key, ("x-namespace", self.settings.namespace)) if namespaced else key

    async def call[R: Message](
        self,
        method: Callable[..., Awaitable[R]],
        request: Message,
        *,
        namespaced: bool = True,
        retry: bool = True,
    ) -> R:
        """One unary call with the client's metadata, deadline and retries; errors mapped."""

        async def attempt() -> R:
            try:
                return await method(
                    request, metadata=self.metadata(namespaced=namespaced), timeout=self.timeout
                )
            except aio.AioRpcError as error:
                raise from_rpc_error(error) from None

        try:
            return await retrying(self.retry, attempt) if retry else await attempt()
        except Unavailable as error:  # never connected: say why (certificate, name, refused)
            raise await reach.explained(error, self.settings) from None

    async def _json(
        self,
        method: Callable[..., Awaitable[Message]],
        request: Message,
        field: str | None = None,
        *,
        namespaced: bool = True,
        retry: bool = True,
    ) -> dict[str, Any]:
        response = await self.call(method, request, namespaced=namespaced, retry=retry)
        return to_json(getattr(response, field) if field else response)

    # Namespaces (organization-wide: no X-Namespace)

    async def create_namespace(self, name: str, **fields: Any) -> dict[str, Any]:
        request = _request(
            namespaces_pb2.CreateNamespaceRequest, {"namespace_name": name, **fields}
        )
        return await self._json(
            self.stubs.namespaces.CreateNamespace,
            request,
            "namespace",
            namespaced=False,
            retry=False,
        )

    async def get_namespace(self, namespace: str) -> dict[str, Any]:
        request = namespaces_pb2.GetNamespaceRequest(namespace_identifier=namespace)
        return await self._json(
            self.stubs.namespaces.GetNamespace, request, "namespace", namespaced=False
        )

    async def list_namespaces(self, **query: Any) -> dict[str, Any]:
        request = _request(namespaces_pb2.ListNamespacesRequest, query)
        return await self._json(self.stubs.namespaces.ListNamespaces, request, namespaced=False)

    async def delete_namespace(self, namespace: str) -> dict[str, Any]:
        request = namespaces_pb2.DeleteNamespaceRequest(namespace_identifier=namespace)
        return await self._json(
            self.stubs.namespaces.DeleteNamespace, request, namespaced=False, retry=False
        )

    # Buckets

    async def create_bucket(
        self, name: str, schema: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        request = _request(
            buckets_pb2.CreateBucketRequest,
            {"bucket_name": name, "bucket_schema": schema, **fields},
        )
        return await self._json(self.stubs.buckets.CreateBucket, request, "bucket", retry=False)

    async def get_bucket(self, bucket: str) -> dict[str, Any]:
        request = buckets_pb2.GetBucketRequest(bucket_identifier=bucket)
        return await self._json(self.stubs.buckets.GetBucket, request, "bucket")

    async def list_buckets(self, **query: Any) -> dict[str, Any]:
        request = _request(buckets_pb2.ListBucketsRequest, query)
        return await self._json(self.stubs.buckets.ListBuckets, request)

    async def delete_bucket(self, bucket: str) -> dict[str, Any]:
        request = buckets_pb2.DeleteBucketRequest(bucket_identifier=bucket)
        return await self._json(self.stubs.buckets.DeleteBucket, request, retry=False)

    # Objects

    async def create_object(
        self, bucket: str, body: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """`body` as for POST /v1/buckets/{bucket}/objects; retried safely with its key."""
        key = idempotency_key or body.get("idempotency_key") or uuid.uuid4().hex
        fields = {**body, "bucket_identifier": bucket, "idempotency_key": key}
        request = _request(objects_pb2.CreateObjectRequest, fields)
        return await self._json(self.stubs.objects.CreateObject, request, "object")

    async def get_object(
        self, bucket: str, object_id: str, *, presigned_urls: bool = False
    ) -> dict[str, Any]:
        request = objects_pb2.GetObjectRequest(
            bucket_identifier=bucket,
            object_identifier=object_id,
            return_presigned_urls=presigned_urls,
        )
        return await self._json(self.stubs.objects.GetObject, request, "object")

    async def list_objects(self, bucket: str, **query: Any) -> dict[str, Any]:
        request = _request(objects_pb2.ListObjectsRequest, {**query, "bucket_identifier": bucket})
        return await self._json(self.stubs.objects.ListObjects, request)

    async def delete_object(self, bucket: str, object_id: str) -> None:
        request = objects_pb2.DeleteObjectRequest(
            bucket_identifier=bucket, object_identifier=object_id
        )
        await self.call(self.stubs.objects.DeleteObject, request, retry=False)

    # Presigned uploads

    async def create_upload(self, bucket: str, **fields: Any) -> dict[str, Any]:
        request = _request(uploads_pb2.CreateUploadRequest, {**fields, "bucket_identifier": bucket})
        return await self._json(self.stubs.uploads.CreateUpload, request, "upload", retry=False)

    async def get_upload(self, bucket: str, upload_id: str) -> dict[str, Any]:
        request = uploads_pb2.GetUploadRequest(bucket_identifier=bucket, upload_id=upload_id)
        return await self._json(self.stubs.uploads.GetUpload, request, "upload")

    async def confirm_upload(self, bucket: str, upload_id: str, **fields: Any) -> dict[str, Any]:
        request = _request(
            uploads_pb2.ConfirmUploadRequest,
            {**fields, "bucket_identifier": bucket, "upload_id": upload_id},
        )
        return await self._json(self.stubs.uploads.ConfirmUpload, request)

    async def list_uploads(self, bucket: str, **query: Any) -> dict[str, Any]:
        request = _request(uploads_pb2.ListUploadsRequest, {**query, "bucket_identifier": bucket})
        return await self._json(self.stubs.uploads.ListUploads, request)

    # Tasks (organization-wide)

    async def get_task(self, task_id: str) -> dict[str, Any]:
        request = tasks_pb2.GetTaskRequest(task_id=task_id)
        return await self._json(self.stubs.tasks.GetTask, request, "task", namespaced=False)

    async def list_tasks(self, **query: Any) -> dict[str, Any]:
        request = _request(tasks_pb2.ListTasksRequest, query)
        return await self._json(self.stubs.tasks.ListTasks, request, namespaced=False)

    # Files

    async def upload_file(
        self,
        bucket: str,
        path: str | Path,
        *,
        property: str | None = None,
        type: str | None = None,
        metadata: dict[str, Any] | None = None,
        key_prefix: str | None = None,
        mime_type: str | None = None,
        progress: Progress | None = None,
        resume_dir: str | Path | None = None,
    ) -> dict[str, Any]:
        """Stream a file over UploadObject through an upload session: a broken connection
        resumes from the bytes bucketd kept, and the SHA-256 computed on the way is checked
        against the stored one. With `resume_dir`, the session is remembered there, so that
        the same call after a crash continues it."""
        path = Path(path)
        spec = transfer.FileUpload(
            bucket=bucket,
            path=path,
            property=property or await self._file_property(bucket),
            type=type,
            metadata=metadata,
            key_prefix=key_prefix,
            mime_type=mime_type,
        )
        return await transfer.upload_file(
            self, spec, progress=progress, resume_dir=Path(resume_dir) if resume_dir else None
        )

    async def upload_stream(
        self,
        bucket: str,
        data: AsyncIterable[bytes] | BinaryIO,
        *,
        property: str,
        type: str | None = None,
        filename: str | None = None,
        metadata: dict[str, Any] | None = None,
        key_prefix: str | None = None,
        mime_type: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Stream bytes that are not a file (an async iterable, or a readable binary object)
        in one UploadObject call; only a file (upload_file) can resume."""
        spec = transfer.StreamUpload(
            bucket=bucket,
            property=property,
            type=type,
            filename=filename,
            metadata=metadata,
            key_prefix=key_prefix,
            mime_type=mime_type,
        )
        return await transfer.upload_stream(self, spec, data, progress=progress)

    async def download(
        self,
        bucket: str,
        object_id: str,
        destination: str | Path,
        *,
        blob: int = 0,
        progress: Progress | None = None,
        on_path: Callable[[Path], None] | None = None,
        presigned: bool = False,
        offset: int = 0,
        limit: int = 0,
    ) -> Path:
        """A blob's bytes into `destination` through ReadObject (each slice's CRC32C and the
        SHA-256 checked, a broken stream resumed; client/reads.py), or with `presigned` through
        a presigned S3 URL; written whole, then renamed into place (a failure leaves nothing).
        A directory (one that exists, or a path ending in "/") receives the file under its
        stored filename; `on_path` hears the file's path before the bytes come. `offset` and
        `limit` name a range (ReadObject only): `limit` bytes (0: all) from `offset`, or with a
        negative offset the last -offset bytes; only a whole blob's SHA-256 is checked."""
        if presigned and (offset or limit):
            raise InvalidArgument("a range is read through ReadObject: drop presigned")
        obj = await self.get_object(bucket, object_id, presigned_urls=presigned)
        details, url = reads.chosen_blob(obj, blob, presigned=presigned)
        stored = details.get("filename") or f"{object_id}-{blob}"
        target = await reads.target_path(destination, stored)
        if on_path is not None:
            on_path(target)
        if url is not None:
            return await transfer.download(
                url, target, size=details.get("size_bytes"), progress=progress
            )
        request = reads.request_of(bucket, object_id, blob=blob, offset=offset, limit=limit)
        return await reads.download_to(
            self.stubs.objects, request, target, metadata=self.metadata(), progress=progress
        )

    async def _file_property(self, bucket: str) -> str:
        """The bucket's one file property, for callers that do not name it."""
        schema = (await self.get_bucket(bucket))["bucket_schema"]["properties"]
        files = [name for name, spec in schema.items() if spec["type"] in transfer.FILE_TYPES]
        if len(files) != 1:
            listed = ", ".join(files) or "none"
            raise InvalidArgument(
                f"name the property to fill: bucket {bucket!r} has {len(files)} file "
                f"properties ({listed})"
            )
        return str(files[0])
