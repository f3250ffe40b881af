"""S3 and MongoDB go away under load and come back: creates answer 503 in the envelope while they
are away, readiness says so, and the work resumes without restarting bucketd.

S3 is killed and restarted on the same port (moto keeps nothing: the storage bucket comes back
empty, and bucketd re-creates it); MongoDB is frozen (SIGSTOP) and thawed, so its data stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import aiohttp
from grpc import aio

from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.standins.launch import mongo_server, s3_server
from tests.e2e.harness import Service, until, wait_until_serving
from tests.e2e.objects_support import PNG, b64, create, make_bucket

QUICK = {"readiness_seconds": 0.2, "mongodb_timeout_seconds": 2.0}


@contextlib.asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[Service]:
    """bucketd, with a gateway of its own that calls it over gRPC (as this test always did:
    over the in-process channel a create can hang past S3's death, an open finding)."""
    async with (
        running_process(settings) as process,
        running_gateway(process.address, GatewaySettings(), host="127.0.0.1", port=0) as url,
        aio.insecure_channel(process.address) as channel,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        await wait_until_serving(channel)
        yield Service(process.address, url, channel, http, process.services)


async def _ready(service: Service) -> int:
    async with service.http.get("/readyz") as reply:
        return reply.status


class _Load:
    """Creates, one after the other, for as long as it runs; counts the statuses."""

    def __init__(self, service: Service, tenant: object) -> None:
        self.statuses: Counter[int] = Counter()
        self.bodies: list[object] = []
        self._service, self._tenant = service, tenant
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:  # new bytes each time: registered ones would need no S3 at all
            fresh = PNG + os.urandom(16)
            blob = {"property": "image", "type": "image", "data": {"base64": b64(fresh)}}
            status, body = await create(self._service, self._tenant, {"blobs": [blob]})  # type: ignore[arg-type]
            self.statuses[status] += 1
            if status != 200:
                self.bodies.append(body)
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])


async def test_s3_killed_and_restarted_under_load(settings: Settings) -> None:
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(s3_server())
        port = urlparse(first.url).port or 0
        own = dataclasses.replace(settings, s3_endpoint_url=first.url, **QUICK)  # type: ignore[arg-type]
        async with _service(own) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            load = _Load(service, acme)
            await until(lambda: _counted(load, 200))
            stack.close()  # S3 is gone, and with it everything it stored

            async def down() -> bool:
                return await _ready(service) == 503 and load.statuses[503] > 0

            await until(down)
            with s3_server(port) as second:  # back on the same port, empty
                assert second.url == first.url

                async def back() -> bool:
                    return await _ready(service) == 200

                await until(back)
                before = load.statuses[200]
                await until(lambda: _counted(load, before + 3))
            await load.stop()
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert all(body["error"]["type"] == "ServiceUnavailableError" for body in load.bodies)  # type: ignore[index]


async def _counted(load: _Load, at_least: int) -> bool:
    return load.statuses[200] >= at_least


async def test_mongodb_frozen_and_thawed_under_load(settings: Settings) -> None:
    with mongo_server() as mongo:
        own = dataclasses.replace(settings, mongodb_uri=mongo.url, **QUICK)  # type: ignore[arg-type]
        async with _service(own) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            load = _Load(service, acme)
            await until(lambda: _counted(load, 2))
            mongo.process.send_signal(signal.SIGSTOP)
            try:

                async def down() -> bool:
                    return await _ready(service) == 503 and load.statuses[503] > 0

                await until(down)
            finally:
                mongo.process.send_signal(signal.SIGCONT)

            async def back() -> bool:
                return await _ready(service) == 200

            await until(back)
            before = load.statuses[200]
            await until(lambda: _counted(load, before + 3))
            await load.stop()
    assert set(load.statuses) <= {200, 503}, load.statuses
