"""BucketService servicer: proto <-> domain, nothing else."""

from __future__ import annotations

from typing import Any, override

from grpc import aio

from bucketd.server.api import convert
from bucketd.server.api.auth import CallerNamespace
from bucketd.server.api.tasks import task_message
from bucketd.server.domain.listing import pagination
from bucketd.server.domain.models import Bucket
from bucketd.server.services.buckets import BucketService, BucketUpdate, NewBucket
from bucketd.server.services.deletions import Deletions
from bucketd.server.services.namespaces import NamespaceService
from bucketd.v1 import buckets_pb2 as pb
from bucketd.v1 import buckets_pb2_grpc

Context = aio.ServicerContext[Any, Any]


def bucket_message(bucket: Bucket) -> pb.Bucket:
    message = pb.Bucket(
        bucket_id=bucket.bucket_id,
        bucket_name=bucket.bucket_name,
        description=bucket.description,
        bucket_schema=convert.schema_from_dict(bucket.bucket_schema.to_dict()),
        metadata=convert.struct(bucket.metadata),
        object_count=bucket.object_count,
        total_size_bytes=bucket.total_size_bytes,
        created_at=convert.timestamp(bucket.created_at),
        updated_at=convert.timestamp(bucket.updated_at),
        last_upload_at=convert.timestamp(bucket.last_upload_at),
        status=convert.status(bucket.status),
        is_locked=False,
    )
    if bucket.unique_key is not None:
        message.unique_key.CopyFrom(convert.unique_key_from_dict(bucket.unique_key))
    average = bucket.total_size_bytes // bucket.object_count if bucket.object_count else 0
    message.storage_stats.CopyFrom(
        pb.StorageStats(total_size_bytes=bucket.total_size_bytes, avg_size_bytes=average)
    )
    return message


def _changes(request: pb.UpdateBucketRequest | pb.PatchBucketRequest) -> BucketUpdate:
    return BucketUpdate(
        bucket_name=convert.optional(request, "bucket_name"),
        description=convert.optional(request, "description"),
        metadata=convert.to_dict(request.metadata) if request.HasField("metadata") else None,
        bucket_schema=(
            convert.schema_to_dict(request.bucket_schema)
            if request.HasField("bucket_schema")
            else None
        ),
        unique_key=(
            convert.unique_key_to_dict(request.unique_key)
            if request.HasField("unique_key")
            else None
        ),
        force_schema_break=request.force_schema_break,
    )


class BucketServicer(buckets_pb2_grpc.BucketServiceServicer):
    def __init__(
        self, buckets: BucketService, deletions: Deletions, namespaces: NamespaceService
    ) -> None:
        self._buckets = buckets
        self._deletions = deletions
        self._namespace = CallerNamespace(namespaces)

    @override
    async def CreateBucket(
        self, request: pb.CreateBucketRequest, context: Context
    ) -> pb.CreateBucketResponse:
        new = NewBucket(
            name=request.bucket_name,
            description=convert.optional(request, "description"),
            bucket_schema=convert.schema_to_dict(request.bucket_schema),
            unique_key=(
                convert.unique_key_to_dict(request.unique_key)
                if request.HasField("unique_key")
                else None
            ),
            metadata=convert.to_dict(request.metadata),
        )
        bucket = await self._buckets.create(await self._namespace(), new)
        return pb.CreateBucketResponse(bucket=bucket_message(bucket))

    @override
    async def GetBucket(
        self, request: pb.GetBucketRequest, context: Context
    ) -> pb.GetBucketResponse:
        bucket = await self._buckets.view(await self._namespace(), request.bucket_identifier)
        return pb.GetBucketResponse(bucket=bucket_message(bucket))

    @override
    async def ListBuckets(
        self, request: pb.ListBucketsRequest, context: Context
    ) -> pb.ListBucketsResponse:
        page = await self._buckets.page(await self._namespace(), convert.list_query(request))
        count = len(page.results)
        return pb.ListBucketsResponse(
            results=[bucket_message(bucket) for bucket in page.results],
            total_count=page.total,
            pagination=convert.pagination(pagination(page.page, total=page.total, returned=count)),
            stats=pb.BucketListStats(
                total_objects=page.total_objects,
                total_size_bytes=page.total_size_bytes,
                avg_objects_per_bucket=page.total_objects / page.total if page.total else 0.0,
                avg_size_per_bucket=page.total_size_bytes / page.total if page.total else 0.0,
            ),
        )

    @override
    async def UpdateBucket(
        self, request: pb.UpdateBucketRequest, context: Context
    ) -> pb.UpdateBucketResponse:
        bucket = await self._buckets.update(
            await self._namespace(), request.bucket_identifier, _changes(request)
        )
        return pb.UpdateBucketResponse(bucket=bucket_message(bucket))

    @override
    async def PatchBucket(
        self, request: pb.PatchBucketRequest, context: Context
    ) -> pb.PatchBucketResponse:
        bucket = await self._buckets.update(
            await self._namespace(), request.bucket_identifier, _changes(request)
        )
        return pb.PatchBucketResponse(bucket=bucket_message(bucket))

    @override
    async def DeleteBucket(
        self, request: pb.DeleteBucketRequest, context: Context
    ) -> pb.DeleteBucketResponse:
        deletion = await self._deletions.delete_bucket(
            await self._namespace(), request.bucket_identifier
        )
        bucket = deletion.bucket
        return pb.DeleteBucketResponse(
            task_id=deletion.task.task_id,
            status=convert.status(deletion.task.status),
            bucket_id=bucket.bucket_id,
            bucket_name=bucket.bucket_name,
            object_count=deletion.object_count,
            task=task_message(deletion.task),
        )
