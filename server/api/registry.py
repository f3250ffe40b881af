"""Which servicer answers each bucketd service (tests/unit/test_layers.py checks that each
servicer implements every RPC of its service)."""

from __future__ import annotations

from grpc import aio

from bucketd.server.api.buckets import BucketServicer
from bucketd.server.api.namespaces import NamespaceServicer
from bucketd.server.api.objects import ObjectServicer
from bucketd.server.api.tasks import TaskServicer
from bucketd.server.api.uploads import UploadServicer
from bucketd.server.services.bundle import Services
from bucketd.server.settings import Settings
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


def add_bucketd_services(server: aio.Server, services: Services, settings: Settings) -> list[str]:
    """Register every bucketd service on `server`; return their full names (for reflection)."""
    namespaces_pb2_grpc.add_NamespaceServiceServicer_to_server(
        NamespaceServicer(services.namespaces, services.deletions), server
    )
    buckets_pb2_grpc.add_BucketServiceServicer_to_server(
        BucketServicer(services.buckets, services.deletions, services.namespaces), server
    )
    objects_pb2_grpc.add_ObjectServiceServicer_to_server(
        ObjectServicer(
            services.objects,
            services.object_reads,
            services.deletions,
            services.streams,
            services.namespaces,
            idle_seconds=settings.stream_idle_seconds,
        ),
        server,
    )
    uploads_pb2_grpc.add_UploadServiceServicer_to_server(
        UploadServicer(services.uploads, services.confirmations, services.namespaces), server
    )
    tasks_pb2_grpc.add_TaskServiceServicer_to_server(TaskServicer(services.tasks), server)
    files = (namespaces_pb2, buckets_pb2, objects_pb2, uploads_pb2, tasks_pb2)
    return [
        service.full_name
        for module in files
        for service in module.DESCRIPTOR.services_by_name.values()
    ]
