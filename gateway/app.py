"""The aiohttp application: one generic handler per derived route, forwarding to gRPC."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from grpc import aio

from bucketd.calls import Caller
from bucketd.codec import MarshalError
from bucketd.drain import Drain
from bucketd.gateway import tus
from bucketd.gateway.access import DRAIN, access_log, client_gone, loggable_path, metrics_endpoint
from bucketd.gateway.calls import Calls
from bucketd.gateway.content import ContentHandler
from bucketd.gateway.cors import Cors
from bucketd.gateway.docs import add_docs
from bucketd.gateway.errors import CallFailed, envelope, from_rpc_error, validation_error
from bucketd.gateway.handlers import RouteHandler
from bucketd.gateway.health import Health
from bucketd.gateway.openapi import served_document
from bucketd.gateway.protocol import EnvelopeRunner
from bucketd.gateway.routes import Kind, Route, routes_from
from bucketd.gateway.settings import GatewaySettings
from bucketd.gateway.uploads import SessionHandler, StreamHandler, UploadProtocol, protocols
from bucketd.listeners import PortInUse

log = logging.getLogger("bucketd.gateway")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SETTINGS = web.AppKey("settings", GatewaySettings)
# aiohttp itself refuses (in plain text) only headers this many times over our own limit.
PROTOCOL_HEADER_FACTOR = 16
# At most this many header fields (431 above); aiohttp itself refuses (plain text) past
# PROTOCOL_MAX_HEADERS only.
MAX_HEADERS = 100
PROTOCOL_MAX_HEADERS = 1000


def _oversized(request: web.Request, limit: int) -> web.Response | None:
    """431 (or 414) in the envelope for a header field (or URL) longer than the limit, or for
    too many header fields."""
    if len(request.raw_path) > limit:
        return envelope(414, f"The request URL is longer than {limit} bytes")
    if len(request.raw_headers) > MAX_HEADERS:
        return envelope(431, f"The request has more than {MAX_HEADERS} header fields")
    for name, value in request.raw_headers:
        if len(name) + len(value) + 2 > limit:
            field = name.decode("latin-1")[:64]
            return envelope(431, f"The {field} header is longer than {limit} bytes")
    return None


@web.middleware
async def error_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves in the reference's envelope, routing errors included: the one place
    where a failed gRPC call, a refused input or an unknown route becomes an answer."""
    refused = _oversized(request, request.app[SETTINGS].http_max_header_bytes)
    if refused is not None:
        return refused
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _routing_error(request, error)
    except (aio.AioRpcError, CallFailed, MarshalError) as error:
        return _failure(error)
    except Exception:
        if client_gone(request):  # not our failure: nobody reads this answer, the log says 499
            return envelope(499, "The client closed the connection before the answer")
        log.exception("unhandled error on %s %s", request.method, loggable_path(request))
        return envelope(500, "Internal server error")


def _failure(error: aio.AioRpcError | CallFailed | MarshalError) -> web.Response:
    if isinstance(error, aio.AioRpcError):  # every route's call fails the same way
        return from_rpc_error(error)
    if isinstance(error, CallFailed):
        answer = from_rpc_error(error.error, error.rest_names)
        answer.headers.update(error.headers)
        return answer
    problems = [validation_error(p.field, p.message, p.kind, p.source) for p in error.problems]
    details = {"validation_errors": problems} if problems else None
    return envelope(error.status, str(error), details=details)


def _routing_error(request: web.Request, error: web.HTTPException) -> web.Response:
    if isinstance(error, web.HTTPMethodNotAllowed):
        return _not_allowed(request, error.allowed_methods)
    if isinstance(error, web.HTTPNotFound):
        return envelope(404, f"No endpoint at {request.method} {request.path}")
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].http_max_body_bytes
        return envelope(413, f"Request body exceeds the limit of {limit} bytes")
    return envelope(error.status, error.reason)


def _not_allowed(request: web.Request, methods: set[str]) -> web.Response:
    allowed = ", ".join(sorted(methods))
    message = f"Method {request.method} is not allowed on {request.path}; use {allowed}"
    return envelope(405, message, headers={"Allow": allowed})


def _literal_guard(methods: set[str]) -> Handler:
    """For a literal path (/v1/buckets/list): any other method is a 405 listing its methods,
    never a match of a templated path (/v1/buckets/{bucket_identifier}) behind it."""

    async def refuse(request: web.Request) -> web.StreamResponse:
        return _not_allowed(request, methods)

    return refuse


def _handler(
    route: Route, calls: Calls, settings: GatewaySettings, adapters: list[UploadProtocol]
) -> StreamHandler | SessionHandler | RouteHandler | ContentHandler:
    """One handler per route kind."""
    if route.kind is Kind.STREAM:
        return StreamHandler(route, calls, settings, adapters)
    if route.kind is Kind.SESSION:
        return SessionHandler(route, adapters)
    if route.kind is Kind.READ:
        return ContentHandler(route, calls, settings)
    return RouteHandler(route, calls, settings)


def _add_routes(app: web.Application, channel: Caller, settings: GatewaySettings) -> None:
    """Every route of the protos, in one loop, most specific first."""
    calls = Calls(channel)
    adapters = protocols(calls, settings)
    by_path: dict[str, list[Route]] = defaultdict(list)
    for route in routes_from():
        by_path[route.aiohttp_path].append(route)
    for path, bound in by_path.items():
        resource = app.router.add_resource(path)
        methods = {route.http_method for route in bound}
        for route in bound:
            handler = _handler(route, calls, settings, adapters)
            resource.add_route(route.http_method, handler.handle)
            if isinstance(handler, StreamHandler):  # an upload protocol's discovery
                resource.add_route("OPTIONS", handler.options)
                methods.add("OPTIONS")
        # A literal path, or a stream's (…/objects/upload): any other method is a 405.
        if "{" not in path or any(route.kind is Kind.STREAM for route in bound):
            resource.add_route("*", _literal_guard(methods))


def build_app(
    channel: aio.Channel,
    settings: GatewaySettings,
    drain: Drain | None = None,
    calls: Caller | None = None,
    *,
    metrics: bool = True,
) -> web.Application:
    """The gateway for the gRPC server behind `channel`. Its routes call through `calls` when
    given (the server's in-process channel, in one `bucketd serve`: no gRPC hop), else through
    `channel`; health always asks the server over `channel`. `metrics=False` when the operator
    gave /metrics a port of its own: the public port then does not answer it."""
    cors = Cors(settings.cors_origins)
    app = web.Application(
        middlewares=[access_log, cors.preflight, error_envelope],
        client_max_size=settings.http_max_body_bytes,
    )
    app.on_response_prepare.append(cors.expose)
    app.on_response_prepare.append(tus.stamp)
    app[SETTINGS] = settings
    app[DRAIN] = drain or Drain()
    _add_routes(app, calls or channel, settings)
    document = served_document()

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(document)

    health = Health(channel)
    app.router.add_get("/healthz", health.live)
    app.router.add_get("/readyz", health.ready)
    app.router.add_get("/openapi.json", openapi)
    if metrics:
        app.router.add_get("/metrics", metrics_endpoint)
    add_docs(app)
    return app


def _runner(app: web.Application, settings: GatewaySettings) -> web.AppRunner:
    protocol_limit = settings.http_max_header_bytes * PROTOCOL_HEADER_FACTOR
    return EnvelopeRunner(
        app,
        access_log=None,
        # A client that disconnects cancels its handler, and so its gRPC call: work stops.
        handler_cancellation=True,
        # Also the longest a connection may take to send its headers (aiohttp closes a
        # connection whose request has not arrived by then).
        keepalive_timeout=settings.http_idle_seconds,
        max_line_size=protocol_limit,
        max_field_size=protocol_limit,
        max_headers=PROTOCOL_MAX_HEADERS,
    )


@contextlib.asynccontextmanager
async def running_gateway(
    grpc_target: str,
    settings: GatewaySettings,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
    drain: Drain | None = None,
    calls: Caller | None = None,
    metrics: bool = True,
) -> AsyncIterator[str]:
    """Serve the gateway on host:port (0 picks one; HTTPS with `ssl_context`) and yield its
    base URL; with `metrics`, GET /metrics too. A taken port raises PortInUse."""
    channel = aio.insecure_channel(
        grpc_target,
        # The server enforces its own message limit, and answers when a request breaks it.
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    runner = _runner(build_app(channel, settings, drain, calls, metrics=metrics), settings)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_port=reuse_port)
        try:
            await site.start()
        except OSError as error:
            raise PortInUse(
                f"cannot listen for HTTP on {host}:{port}: {error.strerror}", flag="--http-port"
            ) from None
        bound_host, bound_port = runner.addresses[0][:2]
        scheme = "https" if ssl_context else "http"
        yield f"{scheme}://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
        await channel.close(None)
