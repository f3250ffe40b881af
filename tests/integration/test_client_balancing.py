"""The client's load balancing (`load_balancing=` / BUCKETD_LB_POLICY): round_robin spreads
calls over every address the target resolves to — what a Kubernetes headless Service needs —
where gRPC's default (pick_first) sends them all to one. Two real gRPC servers on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, override

import pytest
from grpc import aio

from bucketd.client import AsyncClient
from bucketd.client.async_client import channel_options
from bucketd.client.settings import ClientSettings
from bucketd.v1 import namespaces_pb2, namespaces_pb2_grpc

CALLS = 20


class Counting(namespaces_pb2_grpc.NamespaceServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    @override
    async def ListNamespaces(
        self, request: namespaces_pb2.ListNamespacesRequest, context: aio.ServicerContext[Any, Any]
    ) -> namespaces_pb2.ListNamespacesResponse:
        self.calls += 1
        return namespaces_pb2.ListNamespacesResponse()


@contextlib.asynccontextmanager
async def _two_servers() -> AsyncIterator[tuple[str, list[Counting]]]:
    """Two servers on 127.0.0.1, and a target naming both (as DNS answers for a headless
    Service: one address per pod)."""
    servers, counters, ports = [], [], []
    for _ in range(2):
        server, counting = aio.server(), Counting()
        namespaces_pb2_grpc.add_NamespaceServiceServicer_to_server(counting, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
        counters.append(counting)
    try:
        yield "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports), counters
    finally:
        for server in servers:
            await server.stop(None)


async def _spread(policy: str | None) -> list[int]:
    async with _two_servers() as (address, counters):
        async with AsyncClient(address, api_key="sk_test_x", load_balancing=policy) as client:
            for _ in range(CALLS):
                await client.list_namespaces()
        return [counting.calls for counting in counters]


async def test_round_robin_reaches_every_address() -> None:
    calls = await _spread("round_robin")
    assert sum(calls) == CALLS and min(calls) >= CALLS // 2 - 1, calls


async def test_pick_first_the_default_sends_every_call_to_one_address() -> None:
    calls = await _spread(None)
    assert sorted(calls) == [0, CALLS], calls


def test_the_policy_is_a_channel_option_from_the_argument_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = ClientSettings.resolve(load_balancing="round_robin")
    assert ("grpc.lb_policy_name", "round_robin") in channel_options(chosen)
    assert not any(name == "grpc.lb_policy_name" for name, _ in channel_options(ClientSettings()))
    monkeypatch.setenv("BUCKETD_LB_POLICY", "round_robin")
    assert ClientSettings.resolve().load_balancing == "round_robin"
    with pytest.raises(ValueError, match="round_robin"):
        ClientSettings.resolve(load_balancing="random")
