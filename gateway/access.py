"""The gateway's access log and HTTP metrics, and the request id that joins its lines to the
server's: taken from X-Request-Id (or made), sent to the server as gRPC metadata, echoed in the
response."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bucketd import logs, metrics
from bucketd.drain import SHUTTING_DOWN, Drain
from bucketd.gateway.errors import envelope
from bucketd.gateway.routes import SECRET_SEPARATOR, SESSION_VARIABLE
from bucketd.listeners import PortInUse

log = logging.getLogger("bucketd.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
DRAIN = web.AppKey("drain", Drain)
# Probes and scrapes keep their answers while the gateway drains (readiness says 503 itself).
ALWAYS_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics"})


def _route(request: web.Request) -> str:
    """The route template (/v1/buckets/{bucket_identifier}): a bounded metric label."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


async def _drained(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler, counted in flight; refused (503, retryable) once the gateway drains, and
    answered 503 if the shutdown has to cut it short."""
    drain = request.app[DRAIN]
    if drain.draining and request.path not in ALWAYS_ANSWERED:
        return envelope(503, SHUTTING_DOWN, headers={"Retry-After": "1"})
    with drain.track():
        try:
            return await handler(request)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not drain.stopping or current is None:
                raise
            current.uncancel()
            return envelope(503, SHUTTING_DOWN, headers={"Retry-After": "1"})


CLIENT_CLOSED_REQUEST = 499  # nginx's word for it: a client that left is not a server error


def client_gone(request: web.Request) -> bool:
    """The client closed its connection (an upload it paused, a tab it shut)."""
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = logs.accepted_request_id(request.headers.get(logs.REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    logs.request_id.set(request_id)
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await _drained(request, handler)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as raised:  # aiohttp's own answers (a redirect, 304): not a 500
        status = raised.status
        raise
    except BaseException:
        if client_gone(request):
            status = CLIENT_CLOSED_REQUEST
        raise
    finally:
        seconds = time.perf_counter() - started
        route = _route(request)
        metrics.HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        metrics.HTTP_SECONDS.labels(route).observe(seconds)
        log.info(
            "http",
            extra={
                "request_id": request_id,
                "http_method": request.method,
                "path": loggable_path(request),
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "bytes_in": request.content_length,
                "bytes_out": getattr(response, "body_length", None) or None,
            },
        )


def loggable_path(request: web.Request) -> str:
    """The path, an upload URL's secret masked (it is a capability: never logged)."""
    session = request.match_info.get(SESSION_VARIABLE, "")
    session_id, _, secret = session.partition(SECRET_SEPARATOR)
    if not secret:
        return request.path
    return request.path.replace(session, f"{session_id}{SECRET_SEPARATOR}…")


async def metrics_endpoint(_: web.Request) -> web.Response:
    """GET /metrics: Prometheus' text format."""
    return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE})


@contextlib.asynccontextmanager
async def running_metrics(host: str, port: int, *, reuse_port: bool) -> AsyncIterator[str]:
    """GET /metrics alone on its own port (--metrics-port)."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port)
        try:
            await site.start()
        except OSError as error:
            raise PortInUse(
                f"cannot listen for metrics on {host}:{port}: {error.strerror}",
                flag="--metrics-port",
            ) from None
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
