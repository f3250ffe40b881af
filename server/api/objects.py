"""ObjectService servicer: proto <-> domain, nothing else (the messages in object_messages.py,
ReadObject's stream in reads.py)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any, override

from grpc import aio

from bucketd import metrics
from bucketd.server.api import convert
from bucketd.server.api.auth import CallerNamespace, its_session_only, only_its_session
from bucketd.server.api.object_messages import (
    aggregation_of,
    blob_input,
    object_input,
    object_message,
    row_keys,
    select_fields,
)
from bucketd.server.api.reads import read_object
from bucketd.server.api.status import error_type
from bucketd.server.api.streams import header_of, messages_of
from bucketd.server.domain.listing import pagination
from bucketd.server.domain.object_plan import ObjectInput
from bucketd.server.services.deletions import Deletions, SoftDeletion
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.object_reads import ObjectReads
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.streams import StreamUploads
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

Context = aio.ServicerContext[Any, Any]


class ObjectServicer(objects_pb2_grpc.ObjectServiceServicer):
    def __init__(
        self,
        objects: ObjectService,
        reads: ObjectReads,
        deletions: Deletions,
        streams: StreamUploads,
        namespaces: NamespaceService,
        *,
        idle_seconds: float,
    ) -> None:
        self._objects = objects
        self._reads = reads
        self._deletions = deletions
        self._streams = streams
        self._namespace = CallerNamespace(namespaces)
        self._idle_seconds = idle_seconds

    @override
    async def CreateObject(
        self, request: pb.CreateObjectRequest, context: Context
    ) -> pb.CreateObjectResponse:
        record = await self._objects.create(
            await self._namespace(), request.bucket_identifier, object_input(request)
        )
        return pb.CreateObjectResponse(object=object_message(record))

    @override
    async def CreateObjectsBatch(
        self, request: pb.CreateObjectsBatchRequest, context: Context
    ) -> pb.CreateObjectsBatchResponse:
        outcome = await self._objects.create_batch(
            await self._namespace(),
            request.bucket_identifier,
            [
                dataclasses.replace(object_input(item), bucket_identifier=item.bucket_identifier)
                for item in request.objects
            ],
        )
        return pb.CreateObjectsBatchResponse(
            succeeded_objects=[object_message(record) for record in outcome.succeeded],
            failed_items=[
                pb.BatchFailure(
                    object_index=failure.index,
                    error=failure.error.message,
                    error_type=error_type(failure.error),
                )
                for failure in outcome.failed
            ],
            total_requested=len(request.objects),
            succeeded_count=len(outcome.succeeded),
            failed_count=len(outcome.failed),
        )

    @override
    async def GetObject(
        self, request: pb.GetObjectRequest, context: Context
    ) -> pb.GetObjectResponse:
        record = await self._reads.get(
            await self._namespace(), request.bucket_identifier, request.object_identifier
        )
        presigned = (
            await self._reads.presigned_urls(record) if request.return_presigned_urls else None
        )
        return pb.GetObjectResponse(object=object_message(record, presigned))

    @override
    async def ReadObject(
        self, request: pb.ReadObjectRequest, context: Context
    ) -> AsyncIterator[pb.ReadObjectResponse]:
        async for message in read_object(self._reads, await self._namespace(), request):
            yield message

    @override
    async def ListObjects(
        self, request: pb.ListObjectsRequest, context: Context
    ) -> pb.ListObjectsResponse:
        page = await self._reads.page(
            await self._namespace(), request.bucket_identifier, convert.list_query(request)
        )
        results = [
            select_fields(
                object_message(
                    record,
                    await self._reads.presigned_urls(record)
                    if request.return_presigned_urls
                    else None,
                ),
                request.select,
            )
            for record in page.results
        ]
        paging = pagination(
            page.page,
            total=page.stats.total_objects,
            returned=len(results),
            next_cursor=page.next_cursor,
        )
        return pb.ListObjectsResponse(
            results=results,
            pagination=convert.pagination(paging),
            stats=pb.ObjectListStats(
                total_objects=page.stats.total_objects,
                total_blobs=page.stats.total_blobs,
                avg_blobs_per_object=page.stats.avg_blobs_per_object,
                objects_by_status=page.stats.objects_by_status,
            ),
        )

    @override
    async def UpdateObject(
        self, request: pb.UpdateObjectRequest, context: Context
    ) -> pb.UpdateObjectResponse:
        change = ObjectInput(
            key_prefix=convert.optional(request, "key_prefix"),
            blobs=[blob_input(blob) for blob in request.blobs],
            metadata=convert.to_dict(request.metadata),
            user_fields=convert.to_dict(request.user_fields),
            skip_duplicates=bool(convert.optional(request, "skip_duplicates")),
        )
        record = await self._objects.update(
            await self._namespace(),
            request.bucket_identifier,
            request.object_identifier,
            change,
            replace_blobs=True,
        )
        return pb.UpdateObjectResponse(object=object_message(record))

    @override
    async def PatchObject(
        self, request: pb.PatchObjectRequest, context: Context
    ) -> pb.PatchObjectResponse:
        change = ObjectInput(
            key_prefix=convert.optional(request, "key_prefix"),
            metadata=convert.to_dict(request.metadata),
            user_fields=convert.to_dict(request.user_fields),
        )
        record = await self._objects.update(
            await self._namespace(),
            request.bucket_identifier,
            request.object_identifier,
            change,
            replace_blobs=False,
        )
        return pb.PatchObjectResponse(object=object_message(record))

    @override
    async def AggregateObjects(
        self, request: pb.AggregateObjectsRequest, context: Context
    ) -> pb.AggregateObjectsResponse:
        started = time.perf_counter()
        spec = aggregation_of(request)
        found, total = await self._reads.aggregate(
            await self._namespace(),
            request.bucket_identifier,
            spec,
            convert.to_dict(request.filters) if request.HasField("filters") else None,
        )
        return pb.AggregateObjectsResponse(
            results=[
                pb.AggregationResult(
                    group=convert.struct(row["group"]), metrics=convert.struct(row["metrics"])
                )
                for row in found
            ],
            total_groups=total,
            query_info=convert.struct(
                {
                    "group_by": list(row_keys(spec)),
                    "aggregations": [metric.alias for metric in spec.metrics],
                    "execution_time_ms": round((time.perf_counter() - started) * 1000, 2),
                }
            ),
        )

    @override
    async def BulkSoftDeleteObjects(
        self, request: pb.BulkSoftDeleteObjectsRequest, context: Context
    ) -> pb.BulkSoftDeleteObjectsResponse:
        hidden = await self._deletions.soft_delete(
            await self._namespace(),
            request.bucket_identifier,
            SoftDeletion(
                object_ids=list(request.object_ids),
                reason=convert.optional(request, "reason"),
                lifecycle_state=convert.optional(request, "lifecycle_state") or "disabled",
                source=convert.optional(request, "source") or "bulk_purge",
            ),
        )
        return pb.BulkSoftDeleteObjectsResponse(
            soft_deleted=len(hidden), requested=len(request.object_ids), collections=0
        )

    @override
    async def UploadObject(
        self, request_iterator: AsyncIterator[pb.UploadObjectRequest], context: Context
    ) -> pb.UploadObjectResponse:
        with metrics.STREAMS_IN_FLIGHT.track_inprogress():
            record = await self._streams.upload(
                await self._namespace(),
                messages_of(
                    its_session_only(request_iterator), context, idle_seconds=self._idle_seconds
                ),
            )
        return pb.UploadObjectResponse(object=object_message(record))

    @override
    async def StartUploadSession(
        self, request: pb.StartUploadSessionRequest, context: Context
    ) -> pb.StartUploadSessionResponse:
        session_id, expires_at, secret = await self._streams.start_session(
            await self._namespace(), header_of(request.header)
        )
        return pb.StartUploadSessionResponse(
            session_id=session_id,
            upload_secret=secret,
            expires_at=convert.timestamp(expires_at),
            limits=self._session_limits(),
        )

    def _session_limits(self) -> pb.UploadSessionLimits:
        return pb.UploadSessionLimits(
            max_size_bytes=self._streams.max_blob_bytes,
            part_size_bytes=self._streams.part_bytes,
            max_chunk_bytes=self._streams.max_chunk_bytes,
        )

    @override
    async def GetUploadSession(
        self, request: pb.GetUploadSessionRequest, context: Context
    ) -> pb.GetUploadSessionResponse:
        only_its_session(request.session_id)
        status = await self._streams.session_status(
            await self._namespace(),
            request.session_id,
            take_over=request.take_over,
            bucket=request.bucket_identifier or None,
        )
        return pb.GetUploadSessionResponse(
            session_id=request.session_id,
            persisted_sizes=[blob.persisted for blob in status.blobs],
            expires_at=convert.timestamp(status.expires_at),
            blobs=[
                pb.UploadSessionBlob(
                    persisted_size=blob.persisted, expected_size_bytes=blob.expected_size
                )
                for blob in status.blobs
            ],
            limits=self._session_limits(),
            complete=status.made is not None,
            object_id=status.made.object_id if status.made else "",
        )

    @override
    async def CancelUploadSession(
        self, request: pb.CancelUploadSessionRequest, context: Context
    ) -> pb.CancelUploadSessionResponse:
        only_its_session(request.session_id)
        await self._streams.cancel_session(
            await self._namespace(), request.session_id, bucket=request.bucket_identifier or None
        )
        return pb.CancelUploadSessionResponse()

    @override
    async def DeleteObject(
        self, request: pb.DeleteObjectRequest, context: Context
    ) -> pb.DeleteObjectResponse:
        await self._deletions.delete_object(
            await self._namespace(),
            request.bucket_identifier,
            request.object_identifier,
        )
        return pb.DeleteObjectResponse()
