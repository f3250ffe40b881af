"""Authentication and namespace scoping, through the gateway and over gRPC."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import grpc
import pytest
from grpc import aio

from bucketd.server.settings import Settings
from bucketd.v1 import buckets_pb2, buckets_pb2_grpc
from tests.e2e.harness import Service, Tenant


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No key cache here, so that a revocation is seen by the very next call."""
    return dataclasses.replace(settings, key_cache_seconds=0)


async def _list_buckets(service: Service, headers: dict[str, str]) -> tuple[int, Any]:
    async with service.http.post("/v1/buckets/list", json={}, headers=headers) as response:
        return response.status, await response.json()


async def _grpc_code(service: Service, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    stub = buckets_pb2_grpc.BucketServiceStub(service.channel)
    try:
        await stub.ListBuckets(buckets_pb2.ListBucketsRequest(), metadata=metadata)
    except aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Missing API key"),
        ("sk_test_abc", "Malformed API key"),
        ("Bearer not-a-key", "Malformed API key"),
        ("Bearer sk_test_" + "Z" * 32, "Invalid API key"),
    ],
)
async def test_bad_keys_are_401(service: Service, authorization: str | None, message: str) -> None:
    headers = {"X-Namespace": "default"}
    if authorization:
        headers["Authorization"] = authorization
    status, body = await _list_buckets(service, headers)
    assert status == 401
    assert body["error"]["type"] == "UnauthorizedError"
    assert message in body["error"]["message"]
    metadata = tuple((k.lower(), v) for k, v in headers.items())
    assert await _grpc_code(service, metadata) == grpc.StatusCode.UNAUTHENTICATED


async def test_valid_key_is_accepted(service: Service, acme: Tenant) -> None:
    status, body = await _list_buckets(service, acme.headers())
    assert status == 200, body
    assert await _grpc_code(service, acme.metadata()) == grpc.StatusCode.OK


async def test_revoked_key_stops_working(service: Service, acme: Tenant) -> None:
    assert (await _list_buckets(service, acme.headers()))[0] == 200
    await service.services.api_keys.revoke(acme.api_key[:12])
    status, body = await _list_buckets(service, acme.headers())
    assert status == 401
    assert "Invalid API key" in body["error"]["message"]
    assert await _grpc_code(service, acme.metadata()) == grpc.StatusCode.UNAUTHENTICATED


async def test_expired_key_is_401(service: Service) -> None:
    issued = await service.services.api_keys.issue(
        "initech", test=True, expires_in=timedelta(seconds=-1)
    )
    headers = {"Authorization": f"Bearer {issued.plaintext}", "X-Namespace": "default"}
    assert (await _list_buckets(service, headers))[0] == 401


async def test_missing_namespace_header_is_400_naming_it(service: Service, acme: Tenant) -> None:
    status, body = await _list_buckets(service, {"Authorization": f"Bearer {acme.api_key}"})
    assert status == 400 and body["error"]["type"] == "BadRequestError"
    assert "X-Namespace" in body["error"]["message"]
    assert body["error"]["details"]["header"] == "X-Namespace"
    metadata = (("authorization", f"Bearer {acme.api_key}"),)
    assert await _grpc_code(service, metadata) == grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_namespace_is_404(service: Service, acme: Tenant) -> None:
    status, body = await _list_buckets(service, acme.headers("nowhere"))
    assert status == 404
    assert body["error"]["message"] == "Namespace 'nowhere' not found"


async def test_namespace_by_id_works(service: Service, acme: Tenant) -> None:
    async with service.http.get("/v1/namespaces/default", headers=acme.headers()) as response:
        namespace_id = (await response.json())["namespace_id"]
    status, _ = await _list_buckets(service, acme.headers(namespace_id))
    assert status == 200


async def test_other_organizations_namespace_looks_missing(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    """By name and by id, a foreign namespace answers exactly like a missing one."""
    await service.tenant("globex", namespace="globex-private")
    async with service.http.get("/v1/namespaces/default", headers=globex.headers()) as response:
        foreign_id = (await response.json())["namespace_id"]
    missing_id = "ns_" + "0" * 16
    answers = {}
    for identifier in ("globex-private", foreign_id, "nothing-here", missing_id):
        status, body = await _list_buckets(service, acme.headers(identifier))
        answers[identifier] = (status, body["error"]["type"], body["error"]["message"])
    assert answers["globex-private"] == (
        404,
        "NotFoundError",
        "Namespace 'globex-private' not found",
    )
    assert answers["nothing-here"] == (404, "NotFoundError", "Namespace 'nothing-here' not found")
    assert answers[foreign_id] == (404, "NotFoundError", f"Namespace '{foreign_id}' not found")
    assert answers[missing_id] == (404, "NotFoundError", f"Namespace '{missing_id}' not found")


async def test_health_and_reflection_need_no_key(service: Service) -> None:
    async with service.http.get("/healthz") as response:
        assert response.status == 200


async def test_request_timeout_becomes_the_grpc_deadline(service: Service, acme: Tenant) -> None:
    headers = {**acme.headers(), "X-Request-Timeout": "0.001"}
    status, body = await _list_buckets(service, headers)
    assert status == 504
    assert body["error"]["type"] == "GatewayTimeoutError"
