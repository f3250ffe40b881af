"""UploadService servicer: proto <-> domain, nothing else."""

from __future__ import annotations

from typing import Any, override

from grpc import aio

from bucketd.server.api import convert
from bucketd.server.api.auth import CallerNamespace, current_caller
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.listing import pagination
from bucketd.server.domain.uploads import UploadRecord, UploadRequest
from bucketd.server.errors import BucketdError, InvalidArgument
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.upload_confirm import UploadConfirmations
from bucketd.server.services.uploads import UploadService, UploadView
from bucketd.v1 import uploads_pb2 as pb
from bucketd.v1 import uploads_pb2_grpc

Context = aio.ServicerContext[Any, Any]
MAX_BATCH = 100


def upload_message(view: UploadView) -> pb.Upload:
    record = view.record
    return pb.Upload(
        upload_id=record.upload_id,
        bucket_id=record.bucket_id,
        filename=record.filename,
        content_type=record.content_type,
        file_size_bytes=record.file_size_bytes,
        presigned_url=view.presigned_url,
        presigned_url_expiration=record.presigned_url_expiration,
        s3_key=record.s3_key,
        status=convert.status(record.status),
        metadata=convert.struct(record.metadata),
        object_metadata=convert.struct(record.object_metadata),
        blob_property=record.blob_property,
        blob_type=record.blob_type,
        file_hash=record.file_hash,
        skip_duplicates=record.skip_duplicates,
        is_duplicate=view.is_duplicate,
        duplicate_of_upload_id=view.duplicate_of_upload_id,
        existing_object_id=view.existing_object_id,
        message=record.message,
        create_object_on_confirm=record.create_object_on_confirm,
        created_at=convert.timestamp(record.created_at),
        expires_at=convert.timestamp(record.expires_at),
        completed_at=convert.timestamp(record.completed_at),
        verified_at=convert.timestamp(record.verified_at),
        etag=record.etag,
        object_id=record.object_id,
        task_id=record.task_id,
    )


def confirm_message(record: UploadRecord) -> pb.ConfirmUploadResponse:
    return pb.ConfirmUploadResponse(
        upload_id=record.upload_id,
        status=convert.status(record.status),
        etag=record.etag,
        file_size_bytes=record.file_size_bytes,
        file_hash=record.file_hash,
        verified_at=convert.timestamp(record.verified_at),
        completed_at=convert.timestamp(record.completed_at),
        object_id=record.object_id,
        task_id=record.task_id,
        message=record.message,
    )


def upload_request(
    message: pb.CreateUploadRequest,
    shared_metadata: dict[str, Any] | None = None,
    shared_object_metadata: dict[str, Any] | None = None,
) -> UploadRequest:
    create = convert.optional(message, "create_object_on_confirm")
    skip = convert.optional(message, "skip_duplicates")
    return UploadRequest(
        filename=message.filename,
        content_type=message.content_type,
        file_size_bytes=convert.optional(message, "file_size_bytes"),
        presigned_url_expiration=convert.optional(message, "presigned_url_expiration"),
        metadata={**(shared_metadata or {}), **convert.to_dict(message.metadata)},
        create_object_on_confirm=True if create is None else create,
        object_metadata={
            **(shared_object_metadata or {}),
            **convert.to_dict(message.object_metadata),
        },
        blob_property=convert.optional(message, "blob_property"),
        blob_type=convert.optional(message, "blob_type"),
        file_hash=convert.optional(message, "file_hash"),
        skip_duplicates=True if skip is None else skip,
    )


class UploadServicer(uploads_pb2_grpc.UploadServiceServicer):
    def __init__(
        self,
        uploads: UploadService,
        confirmations: UploadConfirmations,
        namespaces: NamespaceService,
    ) -> None:
        self._uploads = uploads
        self._confirmations = confirmations
        self._namespace = CallerNamespace(namespaces)

    @override
    async def CreateUpload(
        self, request: pb.CreateUploadRequest, context: Context
    ) -> pb.CreateUploadResponse:
        view = await self._uploads.create(
            await self._namespace(),
            current_caller().principal.organization_id,
            request.bucket_identifier,
            upload_request(request),
        )
        return pb.CreateUploadResponse(upload=upload_message(view))

    @override
    async def CreateUploadsBatch(
        self, request: pb.CreateUploadsBatchRequest, context: Context
    ) -> pb.CreateUploadsBatchResponse:
        if not 1 <= len(request.uploads) <= MAX_BATCH:
            raise InvalidArgument(f"uploads: give 1 to {MAX_BATCH}, got {len(request.uploads)}")
        namespace = await self._namespace()
        shared = convert.to_dict(request.shared_metadata)
        shared_object = convert.to_dict(request.shared_object_metadata)
        views = []
        for index, item in enumerate(request.uploads):
            try:
                views.append(
                    await self._uploads.create(
                        namespace,
                        current_caller().principal.organization_id,
                        request.bucket_identifier,
                        upload_request(item, shared, shared_object),
                    )
                )
            except BucketdError as error:
                error.message = f"uploads[{index}]: {error.message}"
                raise
        return pb.CreateUploadsBatchResponse(
            uploads=[upload_message(view) for view in views], total=len(views)
        )

    @override
    async def GetUpload(
        self, request: pb.GetUploadRequest, context: Context
    ) -> pb.GetUploadResponse:
        view = await self._uploads.get(
            await self._namespace(),
            request.bucket_identifier,
            request.upload_id,
            presign=request.return_presigned_urls,
        )
        return pb.GetUploadResponse(upload=upload_message(view))

    @override
    async def ListUploads(
        self, request: pb.ListUploadsRequest, context: Context
    ) -> pb.ListUploadsResponse:
        found, total, page, stats = await self._uploads.page(
            await self._namespace(),
            request.bucket_identifier,
            convert.list_query(request),
        )
        return pb.ListUploadsResponse(
            results=[upload_message(UploadView(record)) for record in found],
            pagination=convert.pagination(pagination(page, total, len(found))),
            stats=pb.UploadListStats(**stats),
        )

    @override
    async def DeleteUpload(
        self, request: pb.DeleteUploadRequest, context: Context
    ) -> pb.DeleteUploadResponse:
        delete_bytes = convert.optional(request, "delete_s3_object")
        await self._uploads.cancel(
            await self._namespace(),
            request.bucket_identifier,
            request.upload_id,
            delete_bytes=True if delete_bytes is None else delete_bytes,
        )
        return pb.DeleteUploadResponse()

    @override
    async def ConfirmUpload(
        self, request: pb.ConfirmUploadRequest, context: Context
    ) -> pb.ConfirmUploadResponse:
        record = await self._confirmations.confirm(
            await self._namespace(),
            request.bucket_identifier,
            request.upload_id,
            etag=convert.optional(request, "etag"),
            size=convert.optional(request, "file_size_bytes"),
            run_async=request.run_async,
        )
        return confirm_message(record)

    @override
    async def ConfirmUploadsBatch(
        self, request: pb.ConfirmUploadsBatchRequest, context: Context
    ) -> pb.ConfirmUploadsBatchResponse:
        if not 1 <= len(request.confirmations) <= MAX_BATCH:
            raise InvalidArgument(
                f"confirmations: give 1 to {MAX_BATCH}, got {len(request.confirmations)}"
            )
        namespace = await self._namespace()
        outcomes: dict[str, Any] = {}
        for item in request.confirmations:
            try:
                record = await self._confirmations.confirm(
                    namespace,
                    request.bucket_identifier,
                    item.upload_id,
                    etag=convert.optional(item, "etag"),
                    size=convert.optional(item, "file_size_bytes"),
                    run_async=True,
                )
                outcomes[item.upload_id] = {"status": record.status, "task_id": record.task_id}
            except BucketdError as error:
                outcomes[item.upload_id] = {"status": "FAILED", "error": error.message}
        return pb.ConfirmUploadsBatchResponse(
            task_id=new_id("task_"),
            status=convert.status("PROCESSING"),
            confirmations_count=len(request.confirmations),
            task=convert.struct({"uploads": outcomes}),
            message="Batch confirmation is being processed in the background.",
        )
