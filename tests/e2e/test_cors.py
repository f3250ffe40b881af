"""Issue 36: CORS for the origins BUCKETD_CORS_ORIGINS lists. Every route's preflight answers 204
before authentication; every answer to a listed origin (errors too) names it and exposes what a
client reads; any other origin, and the health and metrics routes, get no CORS header; and a page
of a listed origin may PUT to a presigned URL of the storage bucket."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import aiohttp
import pytest

from bucketd.gateway.routes import Kind, routes_from
from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, make_bucket
from tests.e2e.route_probes import preflight

PAGE = "http://127.0.0.1:8123"
OTHER = "http://localhost:8123"
_VARIABLE = re.compile(r"\{([a-z_]+)\}")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, cors_origins=(PAGE, "https://app.example.com"))


def _cors(headers: Any) -> dict[str, str]:
    return {
        k.lower(): v for k, v in dict(headers).items() if k.lower().startswith("access-control")
    }


async def test_every_routes_preflight_answers_before_authentication(service: Service) -> None:
    kinds = set()
    for route in routes_from():
        path = _VARIABLE.sub("x_1", route.openapi_path)
        async with service.http.request(**preflight(route, path, PAGE)) as reply:
            assert reply.status == 204, (route.http_method, path, await reply.text())
            cors = _cors(reply.headers)
            assert cors["access-control-allow-origin"] == PAGE
            methods = cors["access-control-allow-methods"].split(", ")
            assert route.http_method in methods, (path, methods)
            allowed = {h.lower() for h in cors["access-control-allow-headers"].split(", ")}
            asked = reply.request_info.headers["Access-Control-Request-Headers"]
            assert set(asked.split(", ")) <= allowed, (path, allowed)
        async with service.http.request(**preflight(route, path, OTHER)) as reply:
            assert _cors(reply.headers) == {}, (path, reply.headers)
        kinds.add(route.kind)
    assert kinds == set(Kind)


async def test_answers_expose_their_headers_to_a_listed_origin_only(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    upload = "/v1/buckets/things/objects/upload?property=doc"
    resumable = {**acme.headers(), "Content-Type": "application/pdf", "Upload-Complete": "?0"}
    async with service.http.post(
        upload, data=b"%PDF", headers={**resumable, "Origin": PAGE}
    ) as reply:
        assert reply.status == 201, await reply.text()
        cors = _cors(reply.headers)
        assert cors["access-control-allow-origin"] == PAGE
        exposed = cors["access-control-expose-headers"].split(", ")
        assert {"Location", "Upload-Offset", "Upload-Limit", "X-Request-Id"} <= set(exposed)
        assert "Origin" in reply.headers.getall("Vary")
    # an error (no key) names the origin too, so that the page can read it
    async with service.http.get("/v1/buckets/things", headers={"Origin": PAGE}) as reply:
        assert reply.status == 401
        assert _cors(reply.headers)["access-control-allow-origin"] == PAGE
    async with service.http.get("/v1/buckets/things", headers={"Origin": OTHER}) as reply:
        assert reply.status == 401 and _cors(reply.headers) == {}
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        async with service.http.get(path, headers={"Origin": PAGE}) as reply:
            assert reply.status == 200 and _cors(reply.headers) == {}, path


async def test_a_listed_origin_may_put_to_a_presigned_url(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    body = {"filename": "a.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    status, upload = await call(service, "POST", "/v1/buckets/things/uploads", acme, body)
    assert status == 200, upload
    asked = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    async with aiohttp.ClientSession() as s3:
        async with s3.options(upload["presigned_url"], headers={"Origin": PAGE, **asked}) as reply:
            assert reply.status == 200, await reply.text()
            assert reply.headers["Access-Control-Allow-Origin"] == PAGE
            assert "PUT" in reply.headers["Access-Control-Allow-Methods"]
        async with s3.options(upload["presigned_url"], headers={"Origin": OTHER, **asked}) as reply:
            assert "Access-Control-Allow-Origin" not in reply.headers
