"""The aiohttp application: one generic handler per derived route, forwarding to gRPC."""

from __future__ import annotations

import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bucketd.gateway import streams
from bucketd.gateway.errors import envelope, from_rpc_error
from bucketd.gateway.marshal import (
    InvalidField,
    MarshalError,
    parse_request,
    set_text_field,
    to_json,
)
from bucketd.gateway.metadata import forwarded_metadata
from bucketd.gateway.openapi import openapi_document
from bucketd.gateway.routes import Route, routes_from
from bucketd.gateway.settings import GatewaySettings

log = logging.getLogger("bucketd.gateway")

# Seconds; becomes the gRPC deadline (capped by BUCKETD_GATEWAY_TIMEOUT_SECONDS).
TIMEOUT_HEADER = "X-Request-Timeout"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves in the reference's envelope, routing errors included."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _routing_error(request, error)
    except InvalidField as error:
        return envelope(422, str(error))
    except MarshalError as error:
        return envelope(400, str(error))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return envelope(500, "Internal server error")


def _routing_error(request: web.Request, error: web.HTTPException) -> web.Response:
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        message = f"Method {request.method} is not allowed on {request.path}; use {allowed}"
        return envelope(405, message, headers={"Allow": allowed})
    if isinstance(error, web.HTTPNotFound):
        return envelope(404, f"No endpoint at {request.method} {request.path}")
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        limit = request.app[CLIENT_MAX_SIZE]
        return envelope(413, f"Request body exceeds the limit of {limit} bytes")
    return envelope(error.status, error.reason)


CLIENT_MAX_SIZE = web.AppKey("client_max_size", int)


class RouteHandler:
    """Translates one HTTP binding to its gRPC call and back."""

    def __init__(self, route: Route, channel: aio.Channel, settings: GatewaySettings) -> None:
        self._route = route
        self._settings = settings
        self._call = channel.unary_unary(
            route.rpc_path,
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=route.response_class.FromString,
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        message = parse_request(self._route.request_class, await self._request_data(request))
        try:
            response = await self._call(
                message, metadata=forwarded_metadata(request), timeout=self._timeout(request)
            )
        except aio.AioRpcError as error:
            return from_rpc_error(error)
        return self._render(response)

    async def _request_data(self, request: web.Request) -> dict[str, Any]:
        data = await _json_body(request) if self._route.body else {}
        if self._route.body and self._route.body != "*":
            data = {self._route.body: data}
        descriptor = self._route.method.input_type
        for name, value in request.match_info.items():
            data.pop(name, None)  # the path wins over the body
            set_text_field(descriptor, data, name, [value])
        for name in set(request.query) - set(request.match_info):
            set_text_field(descriptor, data, name, request.query.getall(name))
        return data

    def _timeout(self, request: web.Request) -> float:
        limit = self._settings.gateway_timeout_seconds
        raw = request.headers.get(TIMEOUT_HEADER)
        if raw is None:
            return limit
        try:
            requested = float(raw)
        except ValueError:
            raise MarshalError(
                f"{TIMEOUT_HEADER} must be a number of seconds, got {raw!r}"
            ) from None
        if requested <= 0:
            raise MarshalError(f"{TIMEOUT_HEADER} must be positive, got {raw}")
        return min(requested, limit)

    def _render(self, response: Any) -> web.Response:
        if not response.DESCRIPTOR.fields:
            return web.Response(status=204)
        if self._route.response_body:
            response = getattr(response, self._route.response_body)
        return web.json_response(to_json(response))


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MarshalError(f"Malformed JSON body: {error}") from None
    if not isinstance(data, dict):
        raise MarshalError("The JSON body must be an object")
    return data


def build_app(channel: aio.Channel, settings: GatewaySettings) -> web.Application:
    """The gateway for the gRPC server behind `channel`."""
    app = web.Application(
        middlewares=[error_envelope], client_max_size=settings.http_max_body_bytes
    )
    app[CLIENT_MAX_SIZE] = settings.http_max_body_bytes
    routes = routes_from()
    # Registered first: a literal path beats the templated /objects/{object_identifier}.
    app.router.add_post(streams.PATH, streams.StreamUploadHandler(channel).handle)
    by_path: dict[str, list[Route]] = defaultdict(list)
    for route in routes:
        by_path[route.aiohttp_path].append(route)
    for path, bound in by_path.items():
        resource = app.router.add_resource(path)
        for route in bound:
            resource.add_route(route.http_method, RouteHandler(route, channel, settings).handle)
    health = health_pb2_grpc.HealthStub(channel)
    document = openapi_document(routes)
    document["paths"][streams.PATH] = {"post": streams.openapi_operation()}

    async def healthz(_: web.Request) -> web.Response:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        except aio.AioRpcError as error:
            return envelope(503, f"gRPC server unavailable: {error.code().name}")
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            return envelope(503, f"gRPC server is {name}")
        return web.json_response({"status": "SERVING"})

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi)
    return app


@contextlib.asynccontextmanager
async def running_gateway(
    grpc_target: str, settings: GatewaySettings, *, host: str, port: int
) -> AsyncIterator[str]:
    """Serve the gateway on host:port (0 picks one) and yield its base URL."""
    channel = aio.insecure_channel(
        grpc_target,
        # The server enforces its own message limit, and answers when a request breaks it.
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    # A client that disconnects cancels its handler, and so its gRPC call: work stops at once.
    runner = web.AppRunner(build_app(channel, settings), access_log=None, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
        await channel.close(None)
