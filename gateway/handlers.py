"""One handler per unary route: the HTTP request becomes the gRPC request, the answer JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from grpc import aio

from bucketd.gateway.errors import from_rpc_error
from bucketd.gateway.inputs import forwarded_metadata, read_json, request_timeout
from bucketd.gateway.marshal import parse_request, set_text_field, to_json
from bucketd.gateway.routes import Route
from bucketd.gateway.settings import GatewaySettings


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
        metadata = forwarded_metadata(request)  # the headers first: they are cheaper to check
        timeout = request_timeout(request, self._settings.gateway_timeout_seconds)
        message = parse_request(
            self._route.request_class,
            await self._request_data(request),
            bound=tuple(self._route.path_variables),
        )
        try:
            response = await self._call(message, metadata=metadata, timeout=timeout)
        except aio.AioRpcError as error:
            return from_rpc_error(error)
        return self._render(response)

    async def _request_data(self, request: web.Request) -> dict[str, Any]:
        data = await self._json(request) if self._route.body else {}
        if self._route.body and self._route.body != "*":
            data = {self._route.body: data}
        descriptor = self._route.method.input_type
        for name, value in request.match_info.items():
            data.pop(name, None)  # the path wins over the body
            set_text_field(descriptor, data, name, [value])
        for name in set(request.query) - set(request.match_info):
            set_text_field(descriptor, data, name, request.query.getall(name))
        return data

    async def _json(self, request: web.Request) -> dict[str, Any]:
        return await read_json(
            request,
            limit=self._settings.http_max_body_bytes,
            idle_seconds=self._settings.http_body_idle_seconds,
        )

    def _render(self, response: Any) -> web.Response:
        if not response.DESCRIPTOR.fields:
            return web.Response(status=204)
        if self._route.response_body:
            response = getattr(response, self._route.response_body)
        return web.json_response(to_json(response))
