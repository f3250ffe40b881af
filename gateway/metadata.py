"""Which HTTP headers become gRPC metadata: an allow-list, never the whole request."""

from __future__ import annotations

from aiohttp import web

FORWARDED_HEADERS = ("authorization", "x-namespace")


def forwarded_metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, request.headers[name]) for name in FORWARDED_HEADERS if name in request.headers
    )
