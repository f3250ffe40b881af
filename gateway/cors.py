"""Cross-origin requests (the Fetch standard's CORS protocol) from the origins an operator lists
in BUCKETD_CORS_ORIGINS, so that a web page on another origin can call the API (issue #36).

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) of any API route is
  answered here, 204, before the route's handler and so before authentication: its methods are
  the ones the route serves, its request headers the ones bucketd reads.
- Every answer of an API route to a listed origin, errors included, names that origin and
  exposes the headers a client must read (an upload's offset, Location, the request id, …): the
  response-prepare signal sets them just before the headers leave, streamed answers included.
- An origin not listed gets no CORS header at all, and the browser blocks the page, as CORS
  intends. The health, metrics and docs routes are not the API's and get none either.

aiohttp-cors would add an OPTIONS route per resource, which the upload route already has (an
upload protocol's discovery) and which a `*` route (gateway/app.py's 405 guards) refuses: one
middleware and one signal are smaller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web

API_PREFIX = "/v1/"
# What bucketd reads from a request (CORS allows no wildcard with Authorization, so each is
# named): the forwarded headers, the JSON routes', the IETF draft's and tus 1.0's.
REQUEST_HEADERS = (
    "Authorization",
    "X-Namespace",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-Id",
    "X-Request-Timeout",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Complete",
    "Upload-Draft-Interop-Version",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Checksum",
    "Upload-Concat",
    "Tus-Resumable",
    "X-HTTP-Method-Override",
)
# What a client must read from an answer (a browser hides every other header from the page).
EXPOSED_HEADERS = (
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Complete",
    "Upload-Limit",
    "Upload-Expires",
    "Upload-Draft-Interop-Version",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "X-Request-Id",
    "Retry-After",
)
PREFLIGHT_MAX_AGE_SECONDS = 600

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _normalized(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class Cors:
    """The CORS answers for a set of origins (`*`: any)."""

    def __init__(self, origins: Iterable[str]) -> None:
        listed = {_normalized(origin) for origin in origins if origin.strip()}
        self._any = "*" in listed
        self._origins = frozenset(listed - {"*"})

    def allows(self, request: web.Request) -> str | None:
        """The request's Origin when it is listed and the path is the API's, else None."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or not request.path.startswith(API_PREFIX):
            return None
        return origin if self._any or _normalized(origin) in self._origins else None

    @web.middleware
    async def preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        preflight = request.method == hdrs.METH_OPTIONS and (
            hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        )
        if not preflight or self.allows(request) is None:
            return await handler(request)
        methods = _route_methods(request)
        if not methods:  # no such route: its 404 (with the CORS headers) says so
            return await handler(request)
        headers = {
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: ", ".join(sorted(methods)),
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ", ".join(REQUEST_HEADERS),
            hdrs.ACCESS_CONTROL_MAX_AGE: str(PREFLIGHT_MAX_AGE_SECONDS),
        }
        return web.Response(status=204, headers=headers)

    async def expose(self, request: web.Request, response: web.StreamResponse) -> None:
        """The origin and the exposed headers on an answer to a listed origin; `Vary: Origin`
        on every API answer, so that a cache never hands one origin's answer to another."""
        if not request.path.startswith(API_PREFIX):
            return
        response.headers.add(hdrs.VARY, hdrs.ORIGIN)
        origin = self.allows(request)
        if origin is None:
            return
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = ", ".join(EXPOSED_HEADERS)


def _route_methods(request: web.Request) -> set[str]:
    """The methods the request's path serves: those of the resource it matched, or those a
    405 would list (aiohttp collects them across every resource that matches the path)."""
    info = request.match_info
    error = info.http_exception
    if isinstance(error, web.HTTPMethodNotAllowed):
        methods = set(error.allowed_methods)
    elif error is not None or info.route.resource is None:
        return set()
    else:
        methods = {route.method for route in info.route.resource}
    return methods - {hdrs.METH_ANY, hdrs.METH_OPTIONS}
