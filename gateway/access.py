"""The gateway's access log and HTTP metrics, and the request id that joins its lines to the
server's: taken from X-Request-Id (or made), sent to the server as gRPC metadata, echoed in the
response."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bucketd import logs, metrics

log = logging.getLogger("bucketd.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)


def _route(request: web.Request) -> str:
    """The route template (/v1/buckets/{bucket_identifier}): a bounded metric label."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = logs.accepted_request_id(request.headers.get(logs.REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    logs.request_id.set(request_id)
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
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
                "path": request.path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "bytes_in": request.content_length,
                "bytes_out": getattr(response, "body_length", None) or None,
            },
        )


async def metrics_endpoint(_: web.Request) -> web.Response:
    """GET /metrics: Prometheus' text format."""
    return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE})
