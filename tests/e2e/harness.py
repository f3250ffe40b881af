"""What end-to-end tests share: a tenant (an organization with a key), the running service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bucketd.process import Process
from bucketd.server.domain.models import Principal
from bucketd.server.services.bundle import Services

READY_TIMEOUT_SECONDS = 120  # a bound, not a wait: a loaded 2-core machine has taken over 30 s


@dataclass(frozen=True)
class Tenant:
    """An organization with an API key; `namespace` is created for it when asked."""

    organization: str
    api_key: str
    namespace: str | None

    def headers(self, namespace: str | None = None) -> dict[str, str]:
        """REST headers: the key, and X-Namespace (this tenant's namespace by default)."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        chosen = namespace or self.namespace
        if chosen:
            headers["X-Namespace"] = chosen
        return headers

    def metadata(self, namespace: str | None = None) -> tuple[tuple[str, str], ...]:
        """The same as gRPC metadata."""
        return tuple((name.lower(), value) for name, value in self.headers(namespace).items())


@dataclass(frozen=True)
class Service:
    grpc_address: str
    http_url: str
    channel: aio.Channel
    http: aiohttp.ClientSession
    services: Services

    async def tenant(self, organization: str, *, namespace: str | None = "default") -> Tenant:
        return await make_tenant(self.services, organization, namespace=namespace)


@contextlib.asynccontextmanager
async def serving(process: Process) -> AsyncIterator[Service]:
    """A running process, once its health says SERVING, with a gRPC channel and an HTTP
    session to it."""
    async with (
        aio.insecure_channel(process.address) as channel,
        aiohttp.ClientSession(base_url=process.url) as http,
    ):
        await wait_until_serving(channel)
        yield Service(process.address, process.url, channel, http, process.services)


async def make_tenant(
    services: Services, organization: str, *, namespace: str | None = "default"
) -> Tenant:
    """Issue a key for `organization` (as `bucketd keys create` does) and its namespace."""
    issued = await services.api_keys.issue(organization, test=True)
    if namespace is not None:
        principal = Principal(
            organization_id=issued.record.organization_id, key_id=issued.record.key_id
        )
        await services.namespaces.create(principal, name=namespace, description=None)
    return Tenant(organization=organization, api_key=issued.plaintext, namespace=namespace)


async def until(condition: Callable[[], Awaitable[bool]], within: float = 60) -> None:
    """Poll state that lives in other processes (servers, S3: no events) until `condition`."""
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 - the state lives in other processes
            await asyncio.sleep(0.05)


async def wait_until_serving(channel: aio.Channel) -> None:
    """Follow the health Watch stream until SERVING: a health check, not a sleep."""
    stub = health_pb2_grpc.HealthStub(channel)
    async with asyncio.timeout(READY_TIMEOUT_SECONDS):
        async for reply in stub.Watch(health_pb2.HealthCheckRequest()):
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
