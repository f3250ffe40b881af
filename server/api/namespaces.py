"""NamespaceService servicer: proto <-> domain, nothing else."""

from __future__ import annotations

from typing import Any, override

from grpc import aio

from bucketd.server.api import convert
from bucketd.server.api.auth import current_caller
from bucketd.server.api.tasks import task_message
from bucketd.server.domain.listing import pagination
from bucketd.server.services.deletions import Deletions
from bucketd.server.services.namespaces import NamespaceService, NamespaceView
from bucketd.v1 import namespaces_pb2 as pb
from bucketd.v1 import namespaces_pb2_grpc

Context = aio.ServicerContext[Any, Any]


def namespace_message(view: NamespaceView) -> pb.Namespace:
    namespace = view.namespace
    return pb.Namespace(
        namespace_id=namespace.namespace_id,
        namespace_name=namespace.namespace_name,
        description=namespace.description,
        bucket_count=view.counts.bucket_count,
        object_count=view.counts.object_count,
        created_at=convert.timestamp(namespace.created_at),
        updated_at=convert.timestamp(namespace.updated_at),
    )


def stats_message(view: NamespaceView) -> pb.NamespaceStats:
    """bucketd keeps no collections or documents: their counts are 0, and complete."""
    return pb.NamespaceStats(
        namespace_id=view.namespace.namespace_id,
        document_count=0,
        document_count_complete=True,
        bucket_count=view.counts.bucket_count,
        collection_count=0,
        object_count=view.counts.object_count,
    )


class NamespaceServicer(namespaces_pb2_grpc.NamespaceServiceServicer):
    def __init__(self, namespaces: NamespaceService, deletions: Deletions) -> None:
        self._namespaces = namespaces
        self._deletions = deletions

    @override
    async def CreateNamespace(
        self, request: pb.CreateNamespaceRequest, context: Context
    ) -> pb.CreateNamespaceResponse:
        view = await self._namespaces.create(
            current_caller().principal,
            name=request.namespace_name,
            description=convert.optional(request, "description"),
        )
        return pb.CreateNamespaceResponse(namespace=namespace_message(view))

    @override
    async def GetNamespace(
        self, request: pb.GetNamespaceRequest, context: Context
    ) -> pb.GetNamespaceResponse:
        view = await self._namespaces.get(current_caller().principal, request.namespace_identifier)
        return pb.GetNamespaceResponse(namespace=namespace_message(view))

    @override
    async def ListNamespaces(
        self, request: pb.ListNamespacesRequest, context: Context
    ) -> pb.ListNamespacesResponse:
        page = await self._namespaces.page(current_caller().principal, convert.list_query(request))
        return pb.ListNamespacesResponse(
            results=[namespace_message(view) for view in page.results],
            total_count=page.total,
            pagination=convert.pagination(
                pagination(page.page, total=page.total, returned=len(page.results))
            ),
        )

    @override
    async def UpdateNamespace(
        self, request: pb.UpdateNamespaceRequest, context: Context
    ) -> pb.UpdateNamespaceResponse:
        view = await self._namespaces.update(
            current_caller().principal,
            request.namespace_identifier,
            name=convert.optional(request, "namespace_name"),
            description=None,
        )
        return pb.UpdateNamespaceResponse(namespace=namespace_message(view))

    @override
    async def PatchNamespace(
        self, request: pb.PatchNamespaceRequest, context: Context
    ) -> pb.PatchNamespaceResponse:
        view = await self._namespaces.update(
            current_caller().principal,
            request.namespace_identifier,
            name=convert.optional(request, "namespace_name"),
            description=convert.optional(request, "description"),
        )
        return pb.PatchNamespaceResponse(namespace=namespace_message(view))

    @override
    async def GetNamespaceStats(
        self, request: pb.GetNamespaceStatsRequest, context: Context
    ) -> pb.GetNamespaceStatsResponse:
        view = await self._namespaces.stats(
            current_caller().principal, request.namespace_identifier
        )
        return pb.GetNamespaceStatsResponse(stats=stats_message(view))

    @override
    async def BatchNamespaceStats(
        self, request: pb.BatchNamespaceStatsRequest, context: Context
    ) -> pb.BatchNamespaceStatsResponse:
        views = await self._namespaces.stats_batch(
            current_caller().principal, list(request.namespace_ids)
        )
        return pb.BatchNamespaceStatsResponse(
            stats={view.namespace.namespace_id: stats_message(view) for view in views}
        )

    @override
    async def EnsureNamespaceIndexes(
        self, request: pb.EnsureNamespaceIndexesRequest, context: Context
    ) -> pb.EnsureNamespaceIndexesResponse:
        names = await self._namespaces.ensure_indexes(
            current_caller().principal, request.namespace_identifier
        )
        return pb.EnsureNamespaceIndexesResponse(
            ensured=names, skipped=names if request.force_rebuild else []
        )

    @override
    async def DeleteNamespace(
        self, request: pb.DeleteNamespaceRequest, context: Context
    ) -> pb.DeleteNamespaceResponse:
        task, namespace = await self._deletions.delete_namespace(
            current_caller().principal, request.namespace_identifier
        )
        return pb.DeleteNamespaceResponse(
            task_id=task.task_id,
            status=convert.status(task.status),
            namespace_id=namespace.namespace_id,
            namespace_name=namespace.namespace_name,
            message="The namespace and everything in it are being deleted in the background.",
            task=task_message(task),
        )
