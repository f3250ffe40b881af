"""Namespace endpoints end to end: REST (the reference's shapes) and gRPC."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc import aio

from bucketd.v1 import namespaces_pb2 as pb
from bucketd.v1 import namespaces_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()


async def _call(
    service: Service, method: str, path: str, tenant: Tenant, body: Any = None
) -> tuple[int, Any]:
    async with service.http.request(method, path, json=body, headers=tenant.headers()) as reply:
        return reply.status, (await reply.json() if reply.status != 204 else None)


async def test_create_get_update_delete_over_rest(service: Service, acme: Tenant) -> None:
    status, created = await _call(
        service,
        "POST",
        "/v1/namespaces",
        acme,
        {"namespace_name": "production", "description": "prod", "feature_extractors": []},
    )
    assert status == 200, created
    assert created["namespace_id"].startswith("ns_")
    assert created["namespace_name"] == "production"
    assert created["description"] == "prod"
    assert created["bucket_count"] == 0 and created["object_count"] == 0
    assert created["created_at"].endswith("Z") and created["updated_at"]

    for identifier in ("production", created["namespace_id"]):
        status, got = await _call(service, "GET", f"/v1/namespaces/{identifier}", acme)
        assert status == 200 and got["namespace_id"] == created["namespace_id"]

    status, patched = await _call(
        service, "PATCH", "/v1/namespaces/production", acme, {"description": "changed"}
    )
    assert status == 200 and patched["description"] == "changed"
    assert patched["namespace_name"] == "production"
    # PUT takes the public docs' UpdateNamespaceRequest: the name (a description is refused)
    status, put = await _call(
        service,
        "PUT",
        f"/v1/namespaces/{created['namespace_id']}",
        acme,
        {"namespace_name": "prod-2"},
    )
    assert status == 200 and put["namespace_name"] == "prod-2"
    assert put["description"] == "changed"
    status, refused = await _call(
        service, "PUT", "/v1/namespaces/prod-2", acme, {"description": "no"}
    )
    assert (
        status == 422 and "accepted: namespace_name, payload_indexes" in refused["error"]["message"]
    )

    status, deletion = await _call(service, "DELETE", "/v1/namespaces/prod-2", acme)
    assert status == 200 and deletion["task"]["task_type"] == "api_namespaces_delete"
    status, missing = await _call(service, "GET", "/v1/namespaces/prod-2", acme)
    assert status == 404
    assert missing["error"]["type"] == "NotFoundError"


async def test_duplicate_name_is_409(service: Service, acme: Tenant) -> None:
    status, body = await _call(
        service, "POST", "/v1/namespaces", acme, {"namespace_name": "default"}
    )
    assert status == 409
    assert body["error"]["type"] == "AlreadyExistsError"
    assert "default" in body["error"]["message"]


async def test_rename_onto_an_existing_name_is_409(service: Service, acme: Tenant) -> None:
    await _call(service, "POST", "/v1/namespaces", acme, {"namespace_name": "second"})
    status, _ = await _call(
        service, "PATCH", "/v1/namespaces/second", acme, {"namespace_name": "default"}
    )
    assert status == 409


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"namespace_name": "ab"}, "namespace_name must be 3 to 64 characters"),
        ({"namespace_name": "x" * 65}, "namespace_name must be 3 to 64 characters"),
        ({"namespace_name": "bad name!"}, "namespace_name may contain only"),
        ({}, "namespace_name: field required"),
    ],
)
async def test_invalid_names_are_422(
    service: Service, acme: Tenant, body: dict[str, str], fragment: str
) -> None:
    status, reply = await _call(service, "POST", "/v1/namespaces", acme, body)
    assert status == 422
    assert fragment in reply["error"]["message"]


async def test_same_name_in_two_organizations(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    """Both fixtures created `default`: names are unique per organization only."""
    _, a = await _call(service, "GET", "/v1/namespaces/default", acme)
    _, b = await _call(service, "GET", "/v1/namespaces/default", globex)
    assert a["namespace_id"] != b["namespace_id"]


async def test_list_search_and_paging(service: Service, acme: Tenant, globex: Tenant) -> None:
    for name in ("alpha-one", "alpha-two", "beta"):
        await _call(service, "POST", "/v1/namespaces", acme, {"namespace_name": name})
    status, page = await _call(
        service,
        "POST",
        "/v1/namespaces/list",
        acme,
        {"search": "ALPHA", "limit": 1, "sort": {"field": "namespace_name", "direction": "desc"}},
    )
    assert status == 200
    assert page["total_count"] == 2
    assert [n["namespace_name"] for n in page["results"]] == ["alpha-two"]
    assert page["pagination"]["has_more"] is True
    _, everything = await _call(service, "POST", "/v1/namespaces/list", acme, {"limit": 100})
    names = {n["namespace_name"] for n in everything["results"]}
    assert names == {"default", "alpha-one", "alpha-two", "beta"}  # nothing of globex


async def test_limit_out_of_range_is_422(service: Service, acme: Tenant) -> None:
    status, body = await _call(service, "POST", "/v1/namespaces/list", acme, {"limit": 0})
    assert status == 422
    assert "limit must be between 1 and 1000" in body["error"]["message"]


async def test_other_organization_cannot_touch_a_namespace(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    _, mine = await _call(service, "GET", "/v1/namespaces/default", acme)
    path = f"/v1/namespaces/{mine['namespace_id']}"
    for method, body in (("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)):
        status, reply = await _call(service, method, path, globex, body)
        assert status == 404, method
        assert reply["error"]["message"] == f"Namespace '{mine['namespace_id']}' not found"
    _, still = await _call(service, "GET", path, acme)
    assert still["description"] is None


async def test_namespace_lifecycle_over_grpc(service: Service, acme: Tenant) -> None:
    stub = namespaces_pb2_grpc.NamespaceServiceStub(service.channel)
    metadata = acme.metadata()
    created = await stub.CreateNamespace(
        pb.CreateNamespaceRequest(namespace_name="grpc-space"), metadata=metadata
    )
    assert created.namespace.namespace_id.startswith("ns_")
    got = await stub.GetNamespace(
        pb.GetNamespaceRequest(namespace_identifier="grpc-space"), metadata=metadata
    )
    assert got.namespace.namespace_id == created.namespace.namespace_id
    listed = await stub.ListNamespaces(pb.ListNamespacesRequest(), metadata=metadata)
    assert listed.total_count == 2
    updated = await stub.PatchNamespace(
        pb.PatchNamespaceRequest(namespace_identifier="grpc-space", description="d"),
        metadata=metadata,
    )
    assert updated.namespace.description == "d"
    renamed = await stub.UpdateNamespace(
        pb.UpdateNamespaceRequest(namespace_identifier="grpc-space", namespace_name="grpc-space"),
        metadata=metadata,
    )
    assert renamed.namespace.description == "d"
    await stub.DeleteNamespace(
        pb.DeleteNamespaceRequest(namespace_identifier="grpc-space"), metadata=metadata
    )
    with pytest.raises(aio.AioRpcError) as raised:
        await stub.GetNamespace(
            pb.GetNamespaceRequest(namespace_identifier="grpc-space"), metadata=metadata
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as duplicate:
        await stub.CreateNamespace(
            pb.CreateNamespaceRequest(namespace_name="default"), metadata=metadata
        )
    assert duplicate.value.code() == grpc.StatusCode.ALREADY_EXISTS
