"""One bucketd process — the gRPC server and the REST gateway over one set of use cases — from
start-up to shutdown. `bucketd serve` runs it (each of its --workers too), and so do the tests;
`bucketd keys` opens MongoDB alone (server/runtime.py).

Everything is opened in the one AsyncExitStack of `running_process`, in this order, and the
stack unwinds in reverse: the shutdown order is this list read from the bottom up.

1. The clients: MongoDB, S3 (and its presigning client), the URL fetcher.
2. The background work: confirms and tasks (stopped: a janitor resumes them from their
   leases), the readiness watch and the janitor's sweep.
3. The listeners: the gRPC server (stopped, the calls it still has given the grace period),
   the REST gateway, the metrics port.
4. The drain, the first step of a shutdown: new calls are refused (503 / UNAVAILABLE, health
   says NOT_SERVING), those in flight get BUCKETD_SHUTDOWN_GRACE_SECONDS, and whatever is left
   is then cancelled and answers 503 / UNAVAILABLE (its writes abort their multipart uploads).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bucketd.drain import Drain
from bucketd.gateway.access import running_metrics
from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.app import GrpcServer, grpc_server, sweep
from bucketd.server.readiness import Readiness
from bucketd.server.runtime import Runtime, open_runtime
from bucketd.server.services.bundle import Services
from bucketd.server.settings import Settings
from bucketd.tls import TlsFiles

log = logging.getLogger("bucketd")


@dataclass(frozen=True)
class Listen:
    """Where a process listens (port 0: one the system picks)."""

    host: str = "127.0.0.1"
    grpc_port: int = 0
    http_port: int = 0
    metrics_port: int | None = None
    reuse_port: bool = False  # --workers: the workers share the ports on purpose


@dataclass(frozen=True)
class Process:
    """What a caller of `running_process` may use: `address` is the public gRPC listener,
    `url` the REST gateway's."""

    address: str
    url: str
    services: Services
    readiness: Readiness
    metrics_url: str | None = None  # with Listen.metrics_port: the only place /metrics answers

    async def wait_ready(self) -> None:
        """Return once MongoDB and S3 answer and the indexes exist (health said SERVING)."""
        await self.readiness.first_ready.wait()


@contextlib.asynccontextmanager
async def running_process(
    settings: Settings, gateway: GatewaySettings | None = None, listen: Listen | None = None
) -> AsyncIterator[Process]:
    """Serve bucketd until the context exits, started and stopped in the order above."""
    listen = listen or Listen()
    async with contextlib.AsyncExitStack() as stack:
        runtime = await open_runtime(settings, stack)
        grpc = await grpc_server(
            settings,
            runtime.services,
            host=listen.host,
            port=listen.grpc_port,
            reuse_port=listen.reuse_port,
            stack=stack,
        )
        readiness = _readiness(grpc, runtime, settings)
        watch = _background(stack, runtime.services, readiness, settings)
        http = Drain()
        url, metrics_url = await _listeners(
            stack,
            grpc,
            drain=http,
            gateway=fitted(gateway or GatewaySettings(), settings),
            listen=listen,
            settings=settings,
        )
        stack.push_async_callback(_drain, grpc, watch, http, settings.shutdown_grace_seconds)
        yield Process(grpc.address, url, runtime.services, readiness, metrics_url)


def _readiness(grpc: GrpcServer, runtime: Runtime, settings: Settings) -> Readiness:
    records = runtime.records
    return Readiness(grpc.health, records.database, records.stores, runtime.s3, settings)


def _background(
    stack: contextlib.AsyncExitStack, services: Services, readiness: Readiness, settings: Settings
) -> asyncio.Task[None]:
    """Step 2; returns the readiness watch (the drain stops it: it would say SERVING again)."""
    stack.push_async_callback(services.tasks.close)
    stack.push_async_callback(services.confirmations.close)
    sweeper = asyncio.create_task(sweep(services, readiness, settings))
    stack.push_async_callback(_stopped, sweeper)
    watch = asyncio.create_task(readiness.run())
    stack.push_async_callback(_stopped, watch)
    return watch


async def _listeners(
    stack: contextlib.AsyncExitStack,
    grpc: GrpcServer,
    *,
    drain: Drain,
    gateway: GatewaySettings,
    listen: Listen,
    settings: Settings,
) -> tuple[str, str | None]:
    """Step 3; returns the gateway's URL and the metrics port's. /metrics answers on the REST
    port only when no metrics port is set: an operator who gave one keeps it off the public
    port."""
    await grpc.server.start()
    stack.push_async_callback(grpc.server.stop, settings.shutdown_grace_seconds)
    tls = TlsFiles.of(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)
    url = await stack.enter_async_context(
        running_gateway(
            grpc.local_target,  # health asks the server over gRPC
            gateway,
            host=listen.host,
            port=listen.http_port,
            ssl_context=tls.http_context() if tls else None,
            reuse_port=listen.reuse_port,
            drain=drain,
            calls=grpc.local,  # the routes skip the gRPC hop
            metrics=listen.metrics_port is None,
        )
    )
    metrics_url = None
    if listen.metrics_port is not None:
        metrics_url = await stack.enter_async_context(
            running_metrics(listen.host, listen.metrics_port, reuse_port=listen.reuse_port)
        )
        log.info("metrics on %s/metrics", metrics_url)
    return url, metrics_url


async def _drain(grpc: GrpcServer, watch: asyncio.Task[None], http: Drain, grace: float) -> None:
    """Step 4: new calls refused at once (503 / UNAVAILABLE, NOT_SERVING); the calls in flight
    get `grace` seconds; then whatever is left is cancelled."""
    log.info("shutting down: refusing new calls, finishing those in flight (grace %.0fs)", grace)
    http.start()
    grpc.drain.start()
    watch.cancel()
    await grpc.health.enter_graceful_shutdown()
    settled = await asyncio.gather(http.settle(grace), grpc.drain.settle(grace))
    if not all(settled):
        log.warning("grace period over: stopping the calls still in flight")
        await grpc.drain.stop()  # a REST call waiting on its gRPC call gets 503 from it
        await http.stop()


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def fitted(gateway: GatewaySettings, settings: Settings) -> GatewaySettings:
    """The gateway's settings fitted to the server's stream limits (chunks it may send, the
    largest blob it may be declared) and CORS origins."""
    return dataclasses.replace(
        gateway,
        stream_chunk_bytes=min(gateway.stream_chunk_bytes, settings.max_stream_chunk_bytes),
        max_stream_blob_bytes=settings.max_stream_blob_bytes,
        cors_origins=settings.cors_origins,
    )
