"""End-to-end fixtures: the gRPC server and the gateway on port 0, a real channel, real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from grpc import aio

from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.app import running_server
from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant, wait_until_serving


@pytest.fixture
async def service(settings: Settings, gateway_settings: GatewaySettings) -> AsyncIterator[Service]:
    async with (
        running_server(settings) as server,
        running_gateway(server.address, gateway_settings, host="127.0.0.1", port=0) as url,
        aio.insecure_channel(server.address) as channel,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        await wait_until_serving(channel)
        yield Service(
            grpc_address=server.address,
            http_url=url,
            channel=channel,
            http=http,
            services=server.services,
        )


@pytest.fixture
async def acme(service: Service) -> Tenant:
    """Organization A, with namespace `default`."""
    return await service.tenant("acme")


@pytest.fixture
async def globex(service: Service) -> Tenant:
    """Organization B, with its own namespace `default`: same name, another organization."""
    return await service.tenant("globex")
