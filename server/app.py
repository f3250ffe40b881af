"""bucketd's gRPC server over the use cases: its interceptors, its services (health and
reflection included), its listeners, the in-process channel that answers with the very same
handlers, and the janitor's sweep. What opens and closes them, in which order, is the process's
owner: bucketd/process.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from dataclasses import dataclass

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs predate it
from grpc_reflection.v1alpha import reflection

from bucketd.drain import Drain
from bucketd.listeners import PortInUse, check_free, dial_host
from bucketd.server.api.admission import AdmissionInterceptor
from bucketd.server.api.auth import AuthInterceptor
from bucketd.server.api.chunk_wire import ChunkViews
from bucketd.server.api.handlers import ServerInterceptor
from bucketd.server.api.local_calls import LocalChannel
from bucketd.server.api.observe import ObserveInterceptor
from bucketd.server.api.registry import Handlers, bucketd_handlers
from bucketd.server.readiness import Readiness
from bucketd.server.services.bundle import Services
from bucketd.server.services.janitor import sweep_safely
from bucketd.server.settings import Settings
from bucketd.tls import TlsFiles

log = logging.getLogger("bucketd.server")
GRPC_FLAG = "--grpc-port"


@dataclass(frozen=True)
class GrpcServer:
    """The gRPC server, bound (not started yet): `address` is its public listener,
    `local_target` where the gateway of the same process dials it (a private Unix socket under
    TLS), `local` bucketd's calls answered in-process (no gRPC hop)."""

    server: aio.Server
    health: health_aio.HealthServicer
    drain: Drain
    address: str
    local_target: str
    local: LocalChannel


async def sweep(services: Services, readiness: Readiness, settings: Settings) -> None:
    """Run the janitor every BUCKETD_SWEEP_SECONDS, once MongoDB and S3 have answered."""
    await readiness.first_ready.wait()
    while True:
        report = await sweep_safely(services.janitor)
        if report:
            log.info("swept: %s", ", ".join(f"{k}={v}" for k, v in vars(report).items() if v))
        await asyncio.sleep(settings.sweep_seconds)


def _listen(
    server: aio.Server, settings: Settings, host: str, port: int, stack: contextlib.AsyncExitStack
) -> tuple[int, str]:
    """Bind the public port (TLS when configured); return it and the gateway's target."""
    tls = TlsFiles.of(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)
    address = f"{host}:{port}"
    try:
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, tls.grpc_credentials())
    except RuntimeError as error:
        raise PortInUse(f"cannot listen for gRPC on {address}: {error}", flag=GRPC_FLAG) from None
    if bound == 0:
        raise PortInUse(f"cannot listen for gRPC on {address}: the port is taken", flag=GRPC_FLAG)
    if tls is None:
        return bound, f"{dial_host(host)}:{bound}"
    private = tempfile.mkdtemp(prefix="bucketd-")  # 0700: only this user reaches the socket
    stack.callback(shutil.rmtree, private, ignore_errors=True)
    local_target = f"unix:{private}/grpc.sock"
    server.add_insecure_port(local_target)
    return bound, local_target


def _interceptors(services: Services, drain: Drain) -> list[ServerInterceptor]:
    # Outermost first: observing sees (and logs) authentication failures too; admission needs
    # the caller that authentication found. ChunkViews only swaps UploadObject's deserializer
    # (the others keep each handler's).
    return [
        ObserveInterceptor(drain),
        AuthInterceptor(services.api_keys, services.streams.holder_of_url),
        AdmissionInterceptor(services.upload_slots, services.rate_limits),
        ChunkViews(),
    ]


def _grpc_server(
    settings: Settings, interceptors: list[ServerInterceptor], *, reuse_port: bool
) -> aio.Server:
    return aio.server(
        interceptors=interceptors,
        options=[
            # Two servers on one port would split the calls between them: off, unless several
            # workers of one bucketd share it on purpose.
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            ("grpc.max_receive_message_length", settings.grpc_max_message_bytes),
            ("grpc.max_send_message_length", settings.grpc_max_message_bytes),
            # No BDP probing: it grows each stream's flow-control window to megabytes that the
            # server then buffers; a slow S3 should slow the client down instead.
            ("grpc.http2.bdp_probe", 0),
        ],
    )


async def _add_services(server: aio.Server, handlers: Handlers) -> health_aio.HealthServicer:
    """bucketd's services, health (NOT_SERVING until ready) and reflection over all of them."""
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    handlers.register(server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    names = [*handlers.by_service, health_name, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    return health


async def grpc_server(
    settings: Settings,
    services: Services,
    *,
    host: str,
    port: int,
    reuse_port: bool,
    stack: contextlib.AsyncExitStack,
) -> GrpcServer:
    """bucketd's gRPC server on host:port (0 picks one), bound; its in-process channel runs
    the same interceptors over the same handlers."""
    if not reuse_port:  # shared ports (--workers) are bound by every worker on purpose
        check_free(host, port, what="gRPC", flag=GRPC_FLAG)
    drain = Drain()
    interceptors = _interceptors(services, drain)
    handlers = bucketd_handlers(services, settings)
    server = _grpc_server(settings, interceptors, reuse_port=reuse_port)
    health = await _add_services(server, handlers)
    bound, local_target = _listen(server, settings, host, port, stack)
    local = LocalChannel(interceptors, handlers)
    return GrpcServer(server, health, drain, f"{host}:{bound}", local_target, local)
