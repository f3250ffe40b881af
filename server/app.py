"""Runs bucketd's gRPC server: opens MongoDB, S3 and the URL fetcher in one AsyncExitStack,
builds the use cases over them (server/wiring.py, the composition root), listens, runs the
background work, and shuts down in the one order `_shutdown_order` states."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs predate it
from grpc_reflection.v1alpha import reflection
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.drain import Drain
from bucketd.listeners import PortInUse, check_free, dial_host
from bucketd.server.api.auth import AuthInterceptor
from bucketd.server.api.chunk_wire import ChunkViews
from bucketd.server.api.handlers import ServerInterceptor
from bucketd.server.api.local_calls import LocalChannel
from bucketd.server.api.observe import ObserveInterceptor
from bucketd.server.api.registry import add_bucketd_services
from bucketd.server.readiness import Readiness
from bucketd.server.services.bundle import Services
from bucketd.server.services.janitor import sweep_safely
from bucketd.server.settings import Settings
from bucketd.server.storage.blobs import S3BlobStorage
from bucketd.server.storage.fetch import Allowlist, UrlFetcher
from bucketd.server.storage.mongo import Document, open_database
from bucketd.server.storage.queries import QueryLimits
from bucketd.server.storage.s3 import S3Client, open_s3
from bucketd.server.wiring import Stores, build_services
from bucketd.tls import TlsFiles

log = logging.getLogger("bucketd.server")
GRPC_FLAG = "--grpc-port"


@dataclass(frozen=True)
class RunningServer:
    """What a caller of `running_server` may use: `address` is the public listener;
    `local_target` is where the in-process gateway dials (a private Unix socket under TLS)."""

    address: str
    local_target: str
    # bucketd's RPCs in-process, for the gateway of the same process (server/api/local_calls.py)
    local_channel: aio.Channel
    services: Services
    readiness: Readiness
    drain: Drain
    _stop_serving: Callable[[], Awaitable[None]]

    async def begin_shutdown(self) -> None:
        """Refuse new calls (UNAVAILABLE) and answer health checks NOT_SERVING."""
        self.drain.start()
        await self._stop_serving()

    async def wait_ready(self) -> None:
        """Return once MongoDB and S3 answer and the indexes exist (health said SERVING)."""
        await self.readiness.first_ready.wait()


async def _sweep(services: Services, readiness: Readiness, settings: Settings) -> None:
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


@dataclass(frozen=True)
class _Resources:
    database: AsyncDatabase[Document]
    s3: S3Client
    services: Services
    stores: Stores


async def _open(settings: Settings, stack: contextlib.AsyncExitStack) -> _Resources:
    """MongoDB, S3 (and the presigning client), the URL fetcher, and the use cases over them;
    closed when `stack` unwinds."""
    assert settings.mongodb_uri
    database = await stack.enter_async_context(
        open_database(
            settings.mongodb_uri,
            settings.mongodb_database,
            timeout_seconds=settings.mongodb_timeout_seconds,
        )
    )
    s3 = await stack.enter_async_context(open_s3(settings))
    presigner = s3
    if settings.presign_endpoint_url != settings.s3_endpoint_url:
        presigner = await stack.enter_async_context(
            open_s3(settings, endpoint_url=settings.presign_endpoint_url)
        )
    fetcher = await stack.enter_async_context(
        UrlFetcher(
            allowlist=Allowlist.parse(settings.fetch_allowlist),
            max_bytes=settings.max_fetch_bytes,
            connect_timeout=settings.fetch_connect_timeout_seconds,
            read_timeout=settings.fetch_read_timeout_seconds,
            total_timeout=settings.fetch_timeout_seconds,
        )
    )
    stores = Stores.on(database, QueryLimits(seconds=settings.query_timeout_seconds))
    storage = S3BlobStorage(s3, settings.s3_bucket, presigner=presigner)
    services = build_services(stores, settings, storage=storage, fetcher=fetcher)
    return _Resources(database, s3, services, stores)


def _interceptors(services: Services, drain: Drain) -> list[ServerInterceptor]:
    # Outermost first: observing sees (and logs) authentication failures too. ChunkViews
    # only swaps UploadObject's deserializer (the others keep each handler's).
    return [ObserveInterceptor(drain), AuthInterceptor(services.api_keys), ChunkViews()]


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


async def _add_services(
    server: aio.Server, services: Services, settings: Settings
) -> health_aio.HealthServicer:
    """bucketd's services, health (NOT_SERVING until ready) and reflection over all of them."""
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    names = add_bucketd_services(server, services, settings)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*names, health_name, reflection.SERVICE_NAME], server)
    return health


def _shutdown_order(
    stack: contextlib.AsyncExitStack,
    *,
    server: aio.Server,
    health: health_aio.HealthServicer,
    services: Services,
    background: list[asyncio.Task[None]],
    grace: float,
) -> None:
    """The shutdown order, stated once: stop watching readiness, answer NOT_SERVING, stop taking
    calls and give those in flight `grace` seconds, stop background confirms and tasks (a
    janitor resumes them from their leases), stop sweeping; then the stack closes the clients.
    (An exit stack runs callbacks last-in first-out: they are pushed in reverse here.)"""
    watcher, sweeper = background
    stack.callback(sweeper.cancel)
    stack.push_async_callback(services.tasks.close)
    stack.push_async_callback(services.confirmations.close)
    stack.push_async_callback(server.stop, grace)
    stack.push_async_callback(health.enter_graceful_shutdown)
    stack.callback(watcher.cancel)


@contextlib.asynccontextmanager
async def running_server(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 0, reuse_port: bool = False
) -> AsyncIterator[RunningServer]:
    """Serve bucketd's gRPC API on host:port (0 picks one) until the context exits."""
    if not settings.mongodb_uri:
        raise ValueError("MONGODB_URI is required to run the server")
    if not reuse_port:  # shared ports (--workers) are bound by every worker on purpose
        check_free(host, port, what="gRPC", flag=GRPC_FLAG)
    async with contextlib.AsyncExitStack() as stack:
        opened = await _open(settings, stack)
        services, drain = opened.services, Drain()
        interceptors = _interceptors(services, drain)
        server = _grpc_server(settings, interceptors, reuse_port=reuse_port)
        health = await _add_services(server, services, settings)
        bound, local_target = _listen(server, settings, host, port, stack)
        await server.start()
        readiness = Readiness(health, opened.database, opened.stores, opened.s3, settings)
        watcher = asyncio.create_task(readiness.run())
        sweeper = asyncio.create_task(_sweep(services, readiness, settings))
        _shutdown_order(
            stack,
            server=server,
            health=health,
            services=services,
            background=[watcher, sweeper],
            grace=settings.shutdown_grace_seconds,
        )

        async def stop_serving() -> None:
            watcher.cancel()  # it would say SERVING again
            await health.enter_graceful_shutdown()

        local = LocalChannel(interceptors)
        add_bucketd_services(cast(aio.Server, local), services, settings)
        yield RunningServer(
            address=f"{host}:{bound}",
            local_target=local_target,
            local_channel=local.as_channel(),
            services=services,
            readiness=readiness,
            drain=drain,
            _stop_serving=stop_serving,
        )
