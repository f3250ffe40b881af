"""End-to-end fixtures: the gRPC server and the gateway on port 0, a real channel, real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.app import running_gateway
from server.app import running_server
from server.settings import Settings

READY_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Service:
    grpc_address: str
    http_url: str
    channel: aio.Channel
    http: aiohttp.ClientSession


async def wait_until_serving(channel: aio.Channel) -> None:
    """Follow the health Watch stream until SERVING: a health check, not a sleep."""
    stub = health_pb2_grpc.HealthStub(channel)
    async with asyncio.timeout(READY_TIMEOUT_SECONDS):
        async for reply in stub.Watch(health_pb2.HealthCheckRequest()):
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with (
        running_server(settings) as server,
        running_gateway(server.address, settings, host="127.0.0.1", port=0) as url,
        aio.insecure_channel(server.address) as channel,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        await wait_until_serving(channel)
        yield Service(grpc_address=server.address, http_url=url, channel=channel, http=http)
