"""Composition root: builds everything from one Settings, inside one AsyncExitStack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs predate it
from grpc_reflection.v1alpha import reflection

from bucketd.server.api.auth import AuthInterceptor
from bucketd.server.api.observe import ObserveInterceptor
from bucketd.server.api.registry import add_bucketd_services
from bucketd.server.readiness import Readiness
from bucketd.server.services.bundle import Services
from bucketd.server.services.janitor import sweep_safely
from bucketd.server.settings import Settings
from bucketd.server.storage.blobs import S3BlobStorage
from bucketd.server.storage.fetch import Allowlist, UrlFetcher
from bucketd.server.storage.mongo import open_database
from bucketd.server.storage.s3 import open_s3
from bucketd.server.wiring import Stores, build_services

log = logging.getLogger("bucketd.server")


@dataclass(frozen=True)
class RunningServer:
    """What a caller of `running_server` may use."""

    address: str
    services: Services
    readiness: Readiness

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


@contextlib.asynccontextmanager
async def running_server(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningServer]:
    """Serve bucketd's gRPC API on host:port (0 picks one) until the context exits.

    On exit the server stops accepting calls, lets in-flight calls finish within the grace
    period, then the MongoDB and S3 clients close.
    """
    if not settings.mongodb_uri:
        raise ValueError("MONGODB_URI is required to run the server")
    async with contextlib.AsyncExitStack() as stack:
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
        stores = Stores.on(database)
        services = build_services(
            stores,
            settings,
            storage=S3BlobStorage(s3, settings.s3_bucket, presigner=presigner),
            fetcher=fetcher,
        )
        server = aio.server(
            # Outermost first: observing sees (and logs) authentication failures too.
            interceptors=[ObserveInterceptor(), AuthInterceptor(services.api_keys)],
            options=[
                ("grpc.max_receive_message_length", settings.grpc_max_message_bytes),
                ("grpc.max_send_message_length", settings.grpc_max_message_bytes),
                # No BDP probing: it grows each stream's flow-control window to megabytes that
                # the server then buffers; a slow S3 should slow the client down instead.
                ("grpc.http2.bdp_probe", 0),
            ],
        )
        health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        await health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        names = add_bucketd_services(server, services, settings)
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        bound = server.add_insecure_port(f"{host}:{port}")
        await server.start()
        readiness = Readiness(health, database, stores, s3, settings)
        watcher = asyncio.create_task(readiness.run())
        sweeper = asyncio.create_task(_sweep(services, readiness, settings))
        # Run on exit in the reverse order: stop watching, NOT_SERVING, stop taking calls and let
        # in-flight ones finish, stop background confirms (a janitor resumes them), stop sweeping.
        stack.callback(sweeper.cancel)
        stack.push_async_callback(services.tasks.close)
        stack.push_async_callback(services.confirmations.close)
        stack.push_async_callback(server.stop, settings.shutdown_grace_seconds)
        stack.push_async_callback(health.enter_graceful_shutdown)
        stack.callback(watcher.cancel)
        yield RunningServer(address=f"{host}:{bound}", services=services, readiness=readiness)
