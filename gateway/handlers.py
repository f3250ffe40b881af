"""The JSON route kind's handler: the HTTP request becomes the gRPC request, the answer JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bucketd.codec import InvalidField, parse_request, text_values, to_json
from bucketd.gateway.calls import Calls
from bucketd.gateway.inputs import Call, read_json
from bucketd.gateway.routes import Route
from bucketd.gateway.settings import GatewaySettings


class RouteHandler:
    """Translates one HTTP binding to its gRPC call and back."""

    def __init__(self, route: Route, calls: Calls, settings: GatewaySettings) -> None:
        self._route = route
        self._settings = settings
        self._calls = calls

    async def handle(self, request: web.Request) -> web.StreamResponse:
        call = Call.of(request, self._settings)  # the headers first: they are cheaper to check
        route = self._route
        fixed = {
            **text_values(route.path_fields, _path(request), source="path"),
            **text_values(route.query_fields, _query(request), source="query"),
        }
        if route.body:  # a wrong key is refused before the body is read
            await self._calls.authenticate(call)
        message = parse_request(
            route.request_class,
            await self._body(request),
            bound=tuple(route.path_variables),
            from_body=True,
            fixed=fixed,
        )
        return self._render(await self._calls(route.method, message, call))

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not self._route.body:
            if request.content_length or request.headers.get("Transfer-Encoding"):
                raise InvalidField.at(
                    "",
                    "this route takes no body: its parameters go in the path and query",
                    "extra_forbidden",
                )
            return {}
        data = await read_json(request, self._settings)
        return data if self._route.body == "*" else {self._route.body: data}

    def _render(self, response: Any) -> web.Response:
        if not response.DESCRIPTOR.fields:
            return web.Response(status=204)
        if self._route.response_body:
            response = getattr(response, self._route.response_body)
        return web.json_response(to_json(response))


def _path(request: web.Request) -> dict[str, list[str]]:
    return {name: [value] for name, value in request.match_info.items()}


def _query(request: web.Request) -> dict[str, list[str]]:
    return {name: request.query.getall(name) for name in request.query}
