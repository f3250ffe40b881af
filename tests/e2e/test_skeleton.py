"""The foundation's 'done when': health, routing errors, OpenAPI, UNIMPLEMENTED (gRPC and REST)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from bucketd.gateway.app import running_gateway
from bucketd.gateway.errors import ERROR_TYPE
from bucketd.gateway.routes import Kind, Route, routes_from
from bucketd.gateway.settings import GatewaySettings
from tests.e2e.harness import Service, Tenant
from tests.e2e.route_probes import probe
from tests.shared_service import shared_service
from tests.unit.test_routes import READ_ENDPOINTS, REFERENCE_ENDPOINTS, UPLOAD_ENDPOINTS

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()


async def test_grpc_health_is_serving(service: Service) -> None:
    reply = await health_pb2_grpc.HealthStub(service.channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_healthz_is_liveness_and_readyz_readiness(service: Service) -> None:
    async with service.http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ALIVE", "serving": "SERVING"}
        assert (await response.text()).endswith("}\n")
    async with service.http.get("/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "SERVING"}
        assert await response.text() == '{"status": "SERVING"}\n'  # a shell prompt after curl


async def test_openapi_lists_the_reference_paths(service: Service) -> None:
    async with service.http.get("/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    # and the upload protocols' discovery (OPTIONS) beside the streamed upload's POST
    discovery = {("OPTIONS", path) for method, path in UPLOAD_ENDPOINTS if method == "POST"}
    assert listed == REFERENCE_ENDPOINTS | UPLOAD_ENDPOINTS | READ_ENDPOINTS | discovery


async def _every_route(http: aiohttp.ClientSession) -> list[tuple[Route, int, Any]]:
    """Each route's answer to its least request (tests/e2e/route_probes.py)."""
    answers = []
    for route in routes_from():
        path = route.url(**{name: f"{name}_1" for name in route.path_variables})
        async with http.request(**probe(route, path, {})) as response:
            body = None if route.http_method == "HEAD" else await response.json()
            assert response.content_type == "application/json", (route.template, response)
            answers.append((route, response.status, body))
    return answers


async def test_every_route_answers_in_the_envelope(gateway_settings: GatewaySettings) -> None:
    """A gRPC server that implements nothing: every route of the protos (JSON, stream and upload
    session alike) answers in the envelope — 501 once its call is made."""
    bare = aio.server()
    port = bare.add_insecure_port("127.0.0.1:0")
    await bare.start()
    try:
        async with (
            running_gateway(f"127.0.0.1:{port}", gateway_settings, host="127.0.0.1", port=0) as url,
            aiohttp.ClientSession(base_url=url) as http,
        ):
            answers = await _every_route(http)
            async with http.post(
                "/v1/buckets/bkt_1/uploads",
                json={"filename": "a.pdf", "content_type": "application/pdf"},
            ) as response:
                assert response.status == 501
                body = await response.json()
    finally:
        await bare.stop(None)
    assert body["success"] is False
    assert body["status"] == 501
    assert body["error"]["type"] == "NotImplementedError"
    for route, status, answer in answers:
        assert status >= 400, (route.http_method, route.template, status)
        if answer is not None:  # a HEAD answer has no body
            assert answer["success"] is False and answer["status"] == status, answer
            assert answer["error"]["type"] == ERROR_TYPE[status], answer
    called = {route.kind for route, status, _ in answers if status == 501}
    assert called == set(Kind) and len(answers) == len(routes_from())


async def test_unknown_route_is_404_in_the_envelope(service: Service) -> None:
    async with service.http.get("/v1/nothing/here") as response:
        assert response.status == 404
        body = await response.json()
    assert body == {
        "success": False,
        "status": 404,
        "error": {
            "message": "No endpoint at GET /v1/nothing/here",
            "type": "NotFoundError",
            "details": None,
        },
    }


async def test_wrong_method_is_405_with_allow(service: Service) -> None:
    async with service.http.put("/v1/buckets") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET, POST"
        body = await response.json()
    assert body["error"]["type"] == "MethodNotAllowedError"
    assert "use GET, POST" in body["error"]["message"]


async def test_malformed_json_is_400(service: Service, acme: Tenant) -> None:
    # With a valid key: a keyless body is refused (401) before it is read.
    headers = {**acme.headers(), "Content-Type": "application/json"}
    async with service.http.post("/v1/buckets", data=b"{not json", headers=headers) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"]["type"] == "BadRequestError"
    assert body["error"]["message"].startswith("Malformed JSON body")


async def test_non_object_json_is_400(service: Service, acme: Tenant) -> None:
    async with service.http.post("/v1/buckets", json=[1, 2], headers=acme.headers()) as response:
        assert response.status == 400
        assert (await response.json())["error"]["message"] == "The JSON body must be an object"


async def test_bad_enum_is_422_naming_the_field(service: Service, acme: Tenant) -> None:
    body = {"bucket_name": "b", "bucket_schema": {"properties": {"a": {"type": "gif"}}}}
    async with service.http.post("/v1/buckets", json=body, headers=acme.headers()) as response:
        assert response.status == 422
        message = (await response.json())["error"]["message"]
    assert "bucket_schema.properties.a.type" in message


async def test_body_over_the_limit_is_413(service: Service, settings: object, acme: Tenant) -> None:
    too_big = b"x" * (32 * 1024 * 1024 + 1)
    async with service.http.post("/v1/buckets", data=too_big, headers=acme.headers()) as response:
        assert response.status == 413
        body = await response.json()
    assert body["error"]["type"] == "PayloadTooLargeError"
    assert str(32 * 1024 * 1024) in body["error"]["message"]


async def test_bad_timeout_header_is_400(service: Service) -> None:
    async with service.http.post(
        "/v1/buckets", json={}, headers={"X-Request-Timeout": "soon"}
    ) as response:
        assert response.status == 400
        assert "X-Request-Timeout" in (await response.json())["error"]["message"]


async def test_reflection_lists_the_services(service: Service) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(service.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for reply in stub.ServerReflectionInfo(iter([request])):
        names = {s.name for s in reply.list_services_response.service}
        break
    assert {
        "bucketd.v1.NamespaceService",
        "bucketd.v1.BucketService",
        "bucketd.v1.ObjectService",
        "bucketd.v1.UploadService",
        "grpc.health.v1.Health",
    } <= names
