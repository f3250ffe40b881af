"""Benchmark: CreateObject with a 4 KiB inline blob, over gRPC and through the REST gateway.

Starts the stand-ins (unless MONGODB_URI / S3_ENDPOINT_URL are set), one bucketd (server and
gateway), then, for 1 and 16 concurrent clients, alternates rounds of gRPC and gateway calls so
that both see the same database size (mongoeco's inserts slow down as collections grow; the
objects are deleted between rounds). Prints requests/s, p50 and p99 latency, and the
gateway/gRPC ratios measured in this run, and what one CreateObject costs in MongoDB commands and
S3 requests (new bytes, and bytes registered already). Not a test: numbers, not assertions.

    .venv/bin/python bench/create.py [--requests 200] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiobotocore.endpoint import AioEndpoint
from grpc import aio
from pymongo import AsyncMongoClient, monitoring

from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.app import running_server
from bucketd.server.domain.models import Principal
from bucketd.server.settings import Settings
from bucketd.standins.launch import mongo_standin, s3_standin
from bucketd.v1 import common_pb2, objects_pb2, objects_pb2_grpc

BLOB = base64.b64encode(os.urandom(4096)).decode()
SCHEMA = {"properties": {"doc": {"type": "text"}}}


@dataclass
class Result:
    latencies: list[float]
    elapsed: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _run(call: Callable[[], Awaitable[None]], requests: int, clients: int) -> Result:
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def client() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Result(latencies, time.perf_counter() - started)


class CommandCounter(monitoring.CommandListener):
    """Counts the MongoDB commands bucketd sends (a listener on every client made after it)."""

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in {"hello", "ismaster", "ping", "endSessions"}:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


MONGO = CommandCounter()
S3: Counter[str] = Counter()


def _count_s3_requests() -> None:
    """Count every S3 request any aiobotocore client sends, by operation (a bench-only hook)."""
    original = AioEndpoint._send_request

    async def counted(self: AioEndpoint, request_dict: Any, operation_model: Any) -> Any:
        S3[operation_model.name] += 1
        return await original(self, request_dict, operation_model)

    AioEndpoint._send_request = counted


async def _count_one_create(
    stub: objects_pb2_grpc.ObjectServiceAsyncStub,
    request: objects_pb2.CreateObjectRequest,
    metadata: tuple[tuple[str, str], ...],
) -> None:
    """What one CreateObject (4 KiB inline) costs: new bytes, then bytes registered already."""
    fresh = objects_pb2.CreateObjectRequest()
    fresh.CopyFrom(request)
    fresh.blobs[0].data.struct_value.update({"base64": base64.b64encode(os.urandom(4096)).decode()})
    await stub.CreateObject(request, metadata=metadata)  # warm: namespace cached, bytes known
    for label, call in (("new bytes", fresh), ("bytes registered already", request)):
        MONGO.commands.clear()
        S3.clear()
        await stub.CreateObject(call, metadata=metadata)
        print(
            f"one CreateObject, {label}: {sum(MONGO.commands.values())} MongoDB commands "
            f"({dict(MONGO.commands)}), {sum(S3.values())} S3 requests ({dict(S3)})"
        )


async def bench(settings: Settings, requests: int, rounds: int) -> None:
    async with (
        running_server(settings) as server,
        running_gateway(server.address, GatewaySettings(), host="127.0.0.1", port=0) as url,
        aio.insecure_channel(server.address) as channel,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        await server.wait_ready()
        issued = await server.services.api_keys.issue("bench", test=True)
        principal = Principal(
            organization_id=issued.record.organization_id, key_id=issued.record.key_id
        )
        await server.services.namespaces.create(principal, name="bench", description=None)
        headers = {"Authorization": f"Bearer {issued.plaintext}", "X-Namespace": "bench"}
        metadata = tuple((k.lower(), v) for k, v in headers.items())
        async with http.post(
            "/v1/buckets", json={"bucket_name": "b", "bucket_schema": SCHEMA}, headers=headers
        ) as reply:
            assert reply.status == 200, await reply.text()
        stub = objects_pb2_grpc.ObjectServiceStub(channel)
        request = objects_pb2.CreateObjectRequest(bucket_identifier="b")
        blob = request.blobs.add(property="doc", type=common_pb2.FIELD_TYPE_TEXT)
        blob.data.struct_value.update({"base64": BLOB, "mime_type": "text/plain"})
        body = {
            "blobs": [
                {
                    "property": "doc",
                    "type": "text",
                    "data": {"base64": BLOB, "mime_type": "text/plain"},
                }
            ]
        }

        async def via_grpc() -> None:
            await stub.CreateObject(request, metadata=metadata)

        async def via_gateway() -> None:
            async with http.post("/v1/buckets/b/objects", json=body, headers=headers) as reply:
                if reply.status != 200:
                    raise RuntimeError(await reply.text())

        await _count_one_create(stub, request, metadata)
        assert settings.mongodb_uri
        mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri)
        objects = mongo[settings.mongodb_database]["objects"]
        contents = mongo[settings.mongodb_database]["contents"]
        print(f"{'path':<8} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for clients in (1, 16):
            merged: dict[str, Result] = {}
            for _ in range(rounds):
                for name, call in (("grpc", via_grpc), ("gateway", via_gateway)):
                    await objects.delete_many({})
                    await contents.delete_many({})  # not held any more: start each round afresh
                    result = await _run(call, requests // rounds, clients)
                    seen = merged.setdefault(name, Result([], 0.0))
                    seen.latencies += result.latencies
                    seen.elapsed += result.elapsed
            for name, result in merged.items():
                print(
                    f"{name:<8} {clients:>7} {result.rate:>8.1f} "
                    f"{result.percentile(0.5):>8.2f} {result.percentile(0.99):>8.2f}"
                )
            grpc_r, gateway_r = merged["grpc"], merged["gateway"]
            latency = statistics.median(gateway_r.latencies) / statistics.median(grpc_r.latencies)
            print(
                f"ratio gateway/gRPC at {clients} client(s): throughput "
                f"{gateway_r.rate / grpc_r.rate:.2f}, p50 latency {latency:.2f}"
            )
        await mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="per path and concurrency")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per setting")
    args = parser.parse_args()
    monitoring.register(MONGO)
    _count_s3_requests()
    base = Settings.from_env()
    with contextlib.ExitStack() as stack:
        mongo = base.mongodb_uri or stack.enter_context(mongo_standin())
        s3 = base.s3_endpoint_url or stack.enter_context(s3_standin())
        settings = Settings(
            mongodb_uri=mongo,
            mongodb_database="bucketd_bench",
            s3_endpoint_url=s3,
            s3_bucket="bucketd-bench",
            aws_access_key_id=base.aws_access_key_id or "bench",
            aws_secret_access_key=base.aws_secret_access_key or "bench",
        )
        asyncio.run(bench(settings, args.requests, args.rounds))


if __name__ == "__main__":
    main()
