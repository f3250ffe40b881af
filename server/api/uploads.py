"""UploadService servicer: proto <-> domain, nothing else."""

from __future__ import annotations

from typing import Any, override

from grpc import aio

from bucketd.server.api import convert, enums
from bucketd.server.api.auth import CallerNamespace, current_caller
from bucketd.server.api.tasks import task_message
from bucketd.server.domain.listing import pagination
from bucketd.server.domain.uploads import UploadRecord, UploadRequest
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.upload_confirm import Confirmation, UploadConfirmations
from bucketd.server.services.uploads import UploadService, UploadView
from bucketd.v1 import uploads_pb2 as pb
from bucketd.v1 import uploads_pb2_grpc

Context = aio.ServicerContext[Any, Any]


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


def upload_request(message: pb.CreateUploadRequest) -> UploadRequest:
    create = convert.optional(message, "create_object_on_confirm")
    skip = convert.optional(message, "skip_duplicates")
    return UploadRequest(
        filename=message.filename,
        content_type=message.content_type,
        file_size_bytes=convert.optional(message, "file_size_bytes"),
        presigned_url_expiration=convert.optional(message, "presigned_url_expiration"),
        metadata=convert.to_dict(message.metadata),
        create_object_on_confirm=True if create is None else create,
        object_metadata=convert.to_dict(message.object_metadata),
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
        views = await self._uploads.create_batch(
            await self._namespace(),
            current_caller().principal.organization_id,
            request.bucket_identifier,
            [upload_request(item) for item in request.uploads],
            shared_metadata=convert.to_dict(request.shared_metadata),
            shared_object_metadata=convert.to_dict(request.shared_object_metadata),
        )
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
        page = await self._uploads.page(
            await self._namespace(), request.bucket_identifier, convert.list_query(request)
        )
        returned = len(page.results)
        return pb.ListUploadsResponse(
            results=[upload_message(UploadView(record)) for record in page.results],
            pagination=convert.pagination(
                pagination(page.page, total=page.total, returned=returned)
            ),
            stats=pb.UploadListStats(**page.stats),
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
            policy=enums.spelling(enums.UNIQUE_KEY_POLICY, request.policy),
        )
        return confirm_message(record)

    @override
    async def ConfirmUploadsBatch(
        self, request: pb.ConfirmUploadsBatchRequest, context: Context
    ) -> pb.ConfirmUploadsBatchResponse:
        task = await self._confirmations.confirm_batch(
            await self._namespace(),
            request.bucket_identifier,
            [
                Confirmation(
                    upload_id=item.upload_id,
                    etag=convert.optional(item, "etag"),
                    size=convert.optional(item, "file_size_bytes"),
                )
                for item in request.confirmations
            ],
            policy=enums.spelling(enums.UNIQUE_KEY_POLICY, request.policy),
        )
        return pb.ConfirmUploadsBatchResponse(
            task_id=task.task_id,
            status=convert.status(task.status),
            confirmations_count=len(request.confirmations),
            task=task_message(task),
            message="Batch confirmation is being processed in the background.",
        )
