"""The least request each route kind takes, for the every-route tests (tenancy, the envelope):
a JSON route gets an empty JSON body, a stream route a small raw file, a session's resource an
append of one byte (PATCH) or nothing (HEAD, DELETE), a read (GET, HEAD) nothing."""

from __future__ import annotations

from typing import Any

from bucketd.gateway.routes import Kind, Route
from tests.e2e.objects_support import PDF


def probe(route: Route, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments of aiohttp's `request` for `route` at `path` (its variables filled)."""
    if route.kind is Kind.STREAM:
        raw = {**headers, "Content-Type": "application/pdf"}
        return {"method": "POST", "url": f"{path}?property=doc", "data": PDF, "headers": raw}
    if route.kind is Kind.SESSION and route.http_method == "PATCH":
        append = {
            **headers,
            "Content-Type": "application/partial-upload",
            "Upload-Offset": "0",
            "Upload-Complete": "?1",
        }
        return {"method": "PATCH", "url": path, "data": b"x", "headers": append}
    body: dict[str, Any] | None = {} if route.http_method in {"POST", "PUT", "PATCH"} else None
    if route.kind is Kind.SESSION:
        body = None
    return {"method": route.http_method, "url": path, "json": body, "headers": headers}


def preflight(route: Route, path: str, origin: str) -> dict[str, Any]:
    """Keyword arguments of aiohttp's `request` for a browser's CORS preflight of `route`: no
    key (a preflight carries none), the headers the route's callers send."""
    asked = "authorization, x-namespace, content-type, idempotency-key, x-request-id"
    if route.kind is not Kind.JSON:
        asked += ", upload-offset, upload-length, upload-complete, upload-metadata, tus-resumable"
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": route.http_method,
        "Access-Control-Request-Headers": asked,
    }
    return {"method": "OPTIONS", "url": path, "headers": headers}
