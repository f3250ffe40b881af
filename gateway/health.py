"""Liveness and readiness, for load balancers and orchestrators.

`/healthz` is liveness: the process answers and its gRPC server is reachable — restart it if
not. `/readyz` is readiness: the gRPC health service says SERVING, which it does only while
MongoDB and S3 answer — send it traffic only then. Neither needs a key.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bucketd.gateway.errors import envelope

CHECK_TIMEOUT_SECONDS = 5
STORES = {"mongodb": "MongoDB", "s3": "S3"}  # the health service names of server/readiness.py


def _answer(body: dict[str, Any]) -> web.Response:
    """JSON ending with a newline: `curl localhost:8080/readyz` leaves the prompt on its line."""
    return web.json_response(body, dumps=lambda value: json.dumps(value) + "\n")


class Health:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = health_pb2_grpc.HealthStub(channel)

    async def _status(self, service: str = "") -> str | None:
        """The server's serving status (of one store: "mongodb", "s3"); None when it cannot be
        reached."""
        try:
            reply = await self._stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=CHECK_TIMEOUT_SECONDS
            )
        except aio.AioRpcError:
            return None
        name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return name

    async def live(self, _: web.Request) -> web.Response:
        status = await self._status()
        if status is None:
            return envelope(503, "the gRPC server does not answer")
        return _answer({"status": "ALIVE", "serving": status})

    async def ready(self, _: web.Request) -> web.Response:
        status = await self._status()
        if status != "SERVING":
            silent = [
                name
                for service, name in STORES.items()
                if status is not None and await self._status(service) == "NOT_SERVING"
            ]
            why = f"{' and '.join(silent)} not answering" if silent else "shutting down or starting"
            return envelope(
                503,
                f"not ready: the gRPC server is {status or 'unreachable'} ({why})",
                details={"serving": status, "not_answering": silent},
            )
        return _answer({"status": "SERVING"})
