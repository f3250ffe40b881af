"""Which servicer answers each bucketd service, and every method's handler derived from the
contract once: the gRPC server registers them, the in-process channel (local_calls.py) answers
with the very same ones (tests/unit/test_layers.py checks that each servicer implements every
RPC of its service)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass
from grpc import aio

from bucketd.server.api.authenticate import AuthServicer
from bucketd.server.api.buckets import BucketServicer
from bucketd.server.api.namespaces import NamespaceServicer
from bucketd.server.api.objects import ObjectServicer
from bucketd.server.api.tasks import TaskServicer
from bucketd.server.api.uploads import UploadServicer
from bucketd.server.services.bundle import Services
from bucketd.server.settings import Settings
from bucketd.v1 import auth_pb2, buckets_pb2, namespaces_pb2, objects_pb2, tasks_pb2, uploads_pb2

if TYPE_CHECKING:  # generic in grpc-stubs only, not at run time
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler


@dataclass(frozen=True)
class Handlers:
    """Every bucketd method's handler, by service full name and method name."""

    by_service: dict[str, dict[str, Handler]]

    def register(self, server: aio.Server) -> None:
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(name, m) for name, m in self.by_service.items()]
        )

    def find(self, path: str) -> Handler | None:
        """The handler of a call's method path (`/bucketd.v1.ObjectService/GetObject`)."""
        service, _, method = path.lstrip("/").partition("/")
        return self.by_service.get(service, {}).get(method)


def bucketd_handlers(services: Services, settings: Settings) -> Handlers:
    """The servicers of every bucketd service, over the use cases."""
    answering = [
        (namespaces_pb2, NamespaceServicer(services.namespaces, services.deletions)),
        (buckets_pb2, BucketServicer(services.buckets, services.deletions, services.namespaces)),
        (
            objects_pb2,
            ObjectServicer(
                services.objects,
                services.object_reads,
                services.deletions,
                services.streams,
                services.namespaces,
                idle_seconds=settings.stream_idle_seconds,
            ),
        ),
        (
            uploads_pb2,
            UploadServicer(services.uploads, services.confirmations, services.namespaces),
        ),
        (tasks_pb2, TaskServicer(services.tasks)),
        (auth_pb2, AuthServicer()),
    ]
    return Handlers(
        {
            service.full_name: _methods(servicer, service)
            for module, servicer in answering
            for service in module.DESCRIPTOR.services_by_name.values()
        }
    )


def _methods(servicer: object, service: ServiceDescriptor) -> dict[str, Handler]:
    return {method.name: _handler(servicer, method) for method in service.methods}


def _handler(servicer: object, method: MethodDescriptor) -> Handler:
    """What the generated add_*_to_server functions register, from the method's descriptor."""
    behavior = getattr(servicer, method.name)
    request = GetMessageClass(method.input_type).FromString
    response = GetMessageClass(method.output_type).SerializeToString
    if method.server_streaming:
        if method.client_streaming:
            raise TypeError(f"{method.full_name}: no bucketd RPC streams both ways")
        return grpc.unary_stream_rpc_method_handler(
            behavior, request_deserializer=request, response_serializer=response
        )
    if method.client_streaming:
        return grpc.stream_unary_rpc_method_handler(
            behavior, request_deserializer=request, response_serializer=response
        )
    return grpc.unary_unary_rpc_method_handler(
        behavior, request_deserializer=request, response_serializer=response
    )
