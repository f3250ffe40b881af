"""Every reason of the contract's ErrorReason, end to end (issue #35): the domain error that names
it, raised by a servicer behind the server's real interceptor, ends as the reason's gRPC status
and ErrorInfo over a real channel, as the reason's HTTP status and envelope type through the
gateway over real HTTP, and as the client's exception for that status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from google.rpc import error_details_pb2
from grpc import aio
from grpc_status import rpc_status

from bucketd import error_reasons
from bucketd.client import ApiError, AsyncClient
from bucketd.client.retries import RetryPolicy
from bucketd.drain import Drain
from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.api.observe import ObserveInterceptor
from bucketd.server.api.status import error_type
from bucketd.v1 import namespaces_pb2, namespaces_pb2_grpc
from tests.unit.test_errors import domain_errors

MESSAGE = "refused on purpose: the test names the reason"


class _Refusing(namespaces_pb2_grpc.NamespaceServiceServicer):
    """GetNamespace("NOT_FOUND") raises the domain error that names ERROR_REASON_NOT_FOUND."""

    async def GetNamespace(  # noqa: N802 - the generated servicer's name
        self, request: namespaces_pb2.GetNamespaceRequest, context: Any
    ) -> namespaces_pb2.GetNamespaceResponse:
        reason = error_reasons.BY_NAME[request.namespace_identifier]
        raise domain_errors()[reason.number](MESSAGE, details={"case": reason.name})


@pytest.fixture
async def refusing() -> AsyncIterator[tuple[str, str]]:
    """A gRPC server (the real interceptor, the refusing servicer) and a gateway in front."""
    server = aio.server(interceptors=[ObserveInterceptor(Drain())])
    namespaces_pb2_grpc.add_NamespaceServiceServicer_to_server(_Refusing(), server)
    address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    await server.start()
    try:
        async with running_gateway(address, GatewaySettings(), host="127.0.0.1", port=0) as url:
            yield address, url
    finally:
        await server.stop(None)


@pytest.mark.parametrize("reason", error_reasons.REASONS.values(), ids=lambda reason: reason.name)
async def test_each_reason_ends_as_its_options_say(
    refusing: tuple[str, str], reason: error_reasons.Reason
) -> None:
    address, url = refusing
    request = namespaces_pb2.GetNamespaceRequest(namespace_identifier=reason.name)
    async with aio.insecure_channel(address) as channel:
        with pytest.raises(aio.AioRpcError) as failed:
            await namespaces_pb2_grpc.NamespaceServiceStub(channel).GetNamespace(request)
    assert failed.value.code() == reason.grpc_code and failed.value.details() == MESSAGE
    status = rpc_status.from_call(failed.value)  # type: ignore[arg-type]
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    assert (info.reason, info.domain) == (reason.name, "bucketd")

    async with (
        aiohttp.ClientSession(base_url=url) as http,
        http.get(
            f"/v1/namespaces/{reason.name}", headers={"Authorization": "Bearer sk_test_x"}
        ) as response,
    ):
        assert response.status == reason.http_status
        body = await response.json()
    assert body["status"] == reason.http_status
    assert body["error"]["type"] == reason.error_type
    assert body["error"]["details"] == {"reason": reason.name, "case": reason.name}
    # A failed batch item names the same error with the same word.
    assert error_type(domain_errors()[reason.number]("x")) == body["error"]["type"]

    async with AsyncClient(
        address, api_key="sk_test_x", tls=False, retry=RetryPolicy(attempts=1)
    ) as client:
        with pytest.raises(ApiError) as raised:
            await client.get_namespace(reason.name)
    assert type(raised.value) is not ApiError  # a class of its own for the status
    assert raised.value.code == reason.grpc_code
    assert (raised.value.reason, raised.value.metadata) == (reason.name, {"case": reason.name})
