"""Benchmark: CreateObject with a 4 KiB inline blob, over gRPC and through the REST gateway.

Starts the stand-ins (unless MONGODB_URI / S3_ENDPOINT_URL are set), one bucketd (server and
gateway), then, for 1 and 16 concurrent clients, alternates rounds of gRPC and gateway calls so
that both see the same database size (mongoeco's inserts slow down as collections grow; the
objects are deleted between rounds). Prints requests/s, p50 and p99 latency, and the
gateway/gRPC ratios measured in this run, and what one CreateObject costs in MongoDB commands and
S3 requests (new bytes, and bytes registered already). Not a test: numbers, not assertions.

    .venv/bin/python -m bench.create [--requests 200] [--rounds 4]

With `--workers 1 2`, it runs `bucketd serve --workers N` as a separate process for each N
instead, and prints the REST and gRPC throughput at 16 clients, and the ratios to N = 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiobotocore.endpoint import AioEndpoint
from grpc import aio
from pymongo import AsyncMongoClient, monitoring

from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.process import Process, running_process
from bucketd.server.domain.models import Principal
from bucketd.server.settings import Settings
from bucketd.standins.launch import mongo_standin, s3_standin
from bucketd.v1 import buckets_pb2, buckets_pb2_grpc, common_pb2, objects_pb2, objects_pb2_grpc

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
) -> dict[str, tuple[int, int]]:
    """What one CreateObject (4 KiB inline) costs: new bytes, then bytes registered already
    (MongoDB commands and S3 requests, printed and returned by label)."""
    fresh = objects_pb2.CreateObjectRequest()
    fresh.CopyFrom(request)
    fresh.blobs[0].data.struct_value.update({"base64": base64.b64encode(os.urandom(4096)).decode()})
    await stub.CreateObject(request, metadata=metadata)  # warm: namespace cached, bytes known
    counted = {}
    for label, call in (("new bytes", fresh), ("bytes registered already", request)):
        MONGO.commands.clear()
        S3.clear()
        await stub.CreateObject(call, metadata=metadata)
        print(
            f"one CreateObject, {label}: {sum(MONGO.commands.values())} MongoDB commands "
            f"({dict(MONGO.commands)}), {sum(S3.values())} S3 requests ({dict(S3)})"
        )
        counted[label] = (sum(MONGO.commands.values()), sum(S3.values()))
    return counted


async def bench(settings: Settings, requests: int, rounds: int) -> None:
    async with (
        running_process(settings) as server,  # as `bucketd serve` runs it
        running_gateway(server.address, GatewaySettings(), host="127.0.0.1", port=0) as remote,
        aio.insecure_channel(server.address) as channel,
        aiohttp.ClientSession(base_url=server.url) as http,
        aiohttp.ClientSession(base_url=remote) as remote_http,
    ):
        await server.wait_ready()
        headers = await tenant_headers(server, "bench")
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
        for label, client in (("in-process", http), ("over gRPC", remote_http)):
            await _gateway_overhead(
                label, channel, http=client, headers=headers, metadata=metadata, requests=requests
            )


async def _gateway_overhead(
    label: str,
    channel: aio.Channel,
    *,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    metadata: tuple[tuple[str, str], ...],
    requests: int,
) -> None:
    """What the gateway adds to a cheap call (GetBucket, one client): p50 over alternating
    rounds, in ms and as a ratio; `label` says how the gateway reaches the server (in-process,
    as in `bucketd serve`, or over gRPC, as a gateway of its own would)."""
    stub = buckets_pb2_grpc.BucketServiceStub(channel)
    request = buckets_pb2.GetBucketRequest(bucket_identifier="b")

    async def via_grpc() -> None:
        await stub.GetBucket(request, metadata=metadata)

    async def via_gateway() -> None:
        async with http.get("/v1/buckets/b", headers=headers) as reply:
            await reply.read()

    merged: dict[str, list[float]] = {"grpc": [], "gateway": []}
    for _ in range(5):
        for name, call in (("grpc", via_grpc), ("gateway", via_gateway)):
            merged[name] += (await _run(call, max(requests, 500) // 5, 1)).latencies
    grpc_p50, gateway_p50 = (statistics.median(merged[n]) * 1000 for n in ("grpc", "gateway"))
    print(
        f"GetBucket p50 (1 client): gRPC {grpc_p50:.2f} ms, gateway {label} "
        f"{gateway_p50:.2f} ms: "
        f"the gateway adds {gateway_p50 - grpc_p50:.2f} ms (ratio {gateway_p50 / grpc_p50:.2f})"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _serving(env: dict[str, str], workers: int) -> Iterator[tuple[str, str]]:
    """`bucketd serve --workers N` on free ports: yields (gRPC address, REST URL) once ready."""
    grpc_port, http_port = _free_port(), _free_port()
    argv = [sys.executable, "-m", "bucketd", "serve", "--workers", str(workers)]
    argv += ["--grpc-port", str(grpc_port), "--http-port", str(http_port)]
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("bucketd did not become ready")
            time.sleep(0.2)
        try:
            yield f"127.0.0.1:{grpc_port}", url
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)


async def _bench_process(grpc: str, url: str, key: str, requests: int) -> dict[str, float]:
    """req/s of 16 clients over REST, then over gRPC (each on its own connections)."""
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "bench"}
    metadata = tuple((k.lower(), v) for k, v in headers.items())
    rates: dict[str, float] = {}
    body = {"blobs": [{"property": "doc", "type": "text", "data": {"base64": BLOB}}]}
    async with aiohttp.ClientSession(
        base_url=url, connector=aiohttp.TCPConnector(limit=0, force_close=True)
    ) as http:
        async with http.post("/v1/namespaces", json={"namespace_name": "bench"}, headers=headers):
            pass
        bucket = {"bucket_name": "b", "bucket_schema": SCHEMA}
        async with http.post("/v1/buckets", json=bucket, headers=headers) as reply:
            assert reply.status == 200, await reply.text()

        async def via_gateway() -> None:
            async with http.post("/v1/buckets/b/objects", json=body, headers=headers) as reply:
                if reply.status != 200:
                    raise RuntimeError(await reply.text())

        rates["gateway"] = (await _run(via_gateway, requests, 16)).rate
    channels = [aio.insecure_channel(grpc) for _ in range(16)]  # connections to spread
    stubs = [objects_pb2_grpc.ObjectServiceStub(channel) for channel in channels]
    request = objects_pb2.CreateObjectRequest(bucket_identifier="b")
    blob = request.blobs.add(property="doc", type=common_pb2.FIELD_TYPE_TEXT)
    blob.data.struct_value.update({"base64": BLOB})
    turn = iter(range(10**9))

    async def via_grpc() -> None:
        await stubs[next(turn) % len(stubs)].CreateObject(request, metadata=metadata)

    rates["grpc"] = (await _run(via_grpc, requests, 16)).rate
    for channel in channels:
        await channel.close(None)
    return rates


def bench_workers(mongo: str, s3: str, counts: list[int], requests: int) -> None:
    print(f"{'workers':>7} {'gateway req/s':>14} {'gRPC req/s':>11}   (16 clients)")
    measured: dict[int, dict[str, float]] = {}
    for count in counts:
        database = f"bucketd_bench_workers_{count}"
        env = {
            **os.environ,
            "MONGODB_URI": mongo,
            "MONGODB_DATABASE": database,
            "S3_ENDPOINT_URL": s3,
            "S3_BUCKET": f"bucketd-bench-workers-{count}",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
            "BUCKETD_LOG_LEVEL": "warning",
        }
        issued = subprocess.run(
            [sys.executable, "-m", "bucketd", "keys", "create", "--org", "bench", "--test"],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        key = issued.stdout.strip().splitlines()[-1]
        with _serving(env, count) as (grpc, url):
            measured[count] = asyncio.run(_bench_process(grpc, url, key, requests))
        rates = measured[count]
        print(f"{count:>7} {rates['gateway']:>14.1f} {rates['grpc']:>11.1f}")
    first = measured[counts[0]]
    for count in counts[1:]:
        rates = measured[count]
        print(
            f"ratio {count} workers / {counts[0]}: gateway "
            f"{rates['gateway'] / first['gateway']:.2f}, gRPC {rates['grpc'] / first['grpc']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="per path and concurrency")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per setting")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        help="compare `bucketd serve --workers N` processes for each N given (e.g. 1 2)",
    )
    args = parser.parse_args()
    if args.workers:
        base = Settings.from_env()
        with contextlib.ExitStack() as stack:
            mongo = base.mongodb_uri or stack.enter_context(mongo_standin())
            s3 = base.s3_endpoint_url or stack.enter_context(s3_standin())
            bench_workers(mongo, s3, args.workers, args.requests)
        return
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


async def tenant_headers(server: Process, name: str) -> dict[str, str]:
    """A test key and a namespace named `name` in `server`: the REST headers that use them."""
    issued = await server.services.api_keys.issue(name, test=True)
    principal = Principal(
        organization_id=issued.record.organization_id, key_id=issued.record.key_id
    )
    await server.services.namespaces.create(principal, name=name, description=None)
    return {"Authorization": f"Bearer {issued.plaintext}", "X-Namespace": name}


if __name__ == "__main__":
    main()
