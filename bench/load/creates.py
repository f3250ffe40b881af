"""Small JSON creates under load (parts 1 and 5): CreateObject with a fresh 4 KiB inline blob
(new bytes every time, so each is a MongoDB write and an S3 PUT), from closed-loop clients over
REST and over gRPC, alternately, at each concurrency asked for. Measures throughput, latency,
statuses, and bucketd's (and the MongoDB stand-in's) CPU-ms per create from /proc."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
from grpc import aio

from bench.load.common import MIB, Calls, Instance, Outcome, Tenant, closed_loop, table
from bucketd.v1 import common_pb2, objects_pb2, objects_pb2_grpc

CHANNELS = 16  # gRPC connections the clients spread over (one is one HTTP/2 connection)


@dataclass
class Run:
    """One path at one concurrency: the calls, and what bucketd spent on them."""

    path: str
    clients: int
    calls: Calls
    cpu_ms: tuple[float, float]  # per successful create: bucketd, MongoDB stand-in
    rss_mib: tuple[float, float]  # bucketd before and after


def _blob() -> str:
    return base64.b64encode(os.urandom(4096)).decode()


def retry_after(metadata: Iterable[Any] | None) -> float:
    """The delay a refused gRPC call was given (RetryInfo in the rich status), else 1 s."""
    from google.rpc import error_details_pb2, status_pb2  # noqa: PLC0415

    for key, value in metadata or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return float(info.retry_delay.ToTimedelta().total_seconds())
    return 1.0


@contextlib.asynccontextmanager
async def rest_create(
    instance: Instance, tenant: Tenant
) -> AsyncIterator[Callable[[int], Awaitable[Outcome]]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base_url=instance.url, connector=connector) as http:

        async def call(_: int) -> Outcome:
            body = {"blobs": [{"property": "doc", "type": "text", "data": {"base64": _blob()}}]}
            async with http.post(
                "/v1/buckets/b/objects", json=body, headers=tenant.headers
            ) as reply:
                await reply.read()
                return str(reply.status), float(reply.headers.get("Retry-After", 0))

        yield call


@contextlib.asynccontextmanager
async def grpc_create(
    instance: Instance, tenant: Tenant
) -> AsyncIterator[Callable[[int], Awaitable[Outcome]]]:
    channels = [aio.insecure_channel(instance.target) for _ in range(CHANNELS)]
    stubs = [objects_pb2_grpc.ObjectServiceStub(channel) for channel in channels]

    async def call(index: int) -> Outcome:
        request = objects_pb2.CreateObjectRequest(bucket_identifier="b")
        blob = request.blobs.add(property="doc", type=common_pb2.FIELD_TYPE_TEXT)
        blob.data.struct_value.update({"base64": _blob()})
        try:
            await stubs[index % CHANNELS].CreateObject(request, metadata=tenant.metadata)
        except aio.AioRpcError as error:
            delay = 0.0
            if error.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
                delay = retry_after(error.trailing_metadata())
            return error.code().name, delay
        return "OK", 0.0

    try:
        yield call
    finally:
        for channel in channels:
            await channel.close(None)


async def make_bucket(
    instance: Instance, tenant: Tenant, *, properties: tuple[str, ...] = ("doc",)
) -> None:
    schema = {"properties": {name: {"type": "text"} for name in properties}}
    body = {"bucket_name": "b", "bucket_schema": schema}
    async with (
        aiohttp.ClientSession(base_url=instance.url) as http,
        http.post("/v1/buckets", json=body, headers=tenant.headers) as reply,
    ):
        assert reply.status == 200, await reply.text()


async def measure(instance: Instance, *, path: str, clients: int, seconds: float) -> Run:
    tenant = instance.tenants["creates"]
    opened = rest_create if path == "REST" else grpc_create
    async with opened(instance, tenant) as call:
        rss, cpu = instance.rss(), instance.cpu()
        calls = await closed_loop(call, clients=clients, seconds=seconds)
        spent = [after - before for before, after in zip(cpu, instance.cpu(), strict=True)]
        done = max(1, len(calls.latencies))
        return Run(
            path, clients, calls, (spent[0] * 1000 / done, spent[1] * 1000 / done),
            (rss / MIB, instance.rss() / MIB),
        )  # fmt: skip


async def creates(instance: Instance, *, concurrency: list[int], seconds: float) -> list[Run]:
    """Each concurrency, gRPC then REST (alternating, so both see the same database size)."""
    await make_bucket(instance, instance.tenants["creates"])
    runs = []
    for clients in concurrency:
        for path in ("gRPC", "REST"):
            runs.append(await measure(instance, path=path, clients=clients, seconds=seconds))
    return runs


def report_creates(runs: list[Run], seconds: float) -> None:
    print(
        f"\n1. Small JSON creates (CreateObject, a fresh 4 KiB inline blob), closed loop, "
        f"{seconds:g} s per row; CPU-ms per successful create from /proc"
    )
    rows = [
        [
            run.path, str(run.clients), f"{run.calls.rate:.1f}", f"{run.calls.ms(0.5):.1f}",
            f"{run.calls.ms(0.99):.1f}", str(len(run.calls.latencies)), run.calls.errors(),
            f"{run.cpu_ms[0]:.2f}", f"{run.cpu_ms[1]:.2f}",
            f"{run.rss_mib[0]:.0f} → {run.rss_mib[1]:.0f}",
        ]
        for run in runs
    ]  # fmt: skip
    table(
        ["path", "clients", "creates/s", "p50 ms", "p99 ms", "ok", "errors",
         "bucketd CPU-ms", "MongoDB CPU-ms", "RSS MiB"],
        rows,
    )  # fmt: skip


def report_ratios(runs: list[Run]) -> list[tuple[str, float, float]]:
    """Part 5: REST against gRPC at each concurrency; returns (what, measured, target) rows."""
    print("\n5. The REST gateway against gRPC (the same runs; target: throughput ≥ 0.95x)")
    by = {(run.path, run.clients): run for run in runs}
    rows, checks = [], []
    for clients in sorted({run.clients for run in runs}):
        grpc_run, rest = by[("gRPC", clients)], by[("REST", clients)]
        ratio = rest.calls.rate / grpc_run.calls.rate if grpc_run.calls.rate else float("nan")
        rows.append([
            str(clients), f"{grpc_run.calls.rate:.1f}", f"{rest.calls.rate:.1f}", f"{ratio:.2f}",
            f"{grpc_run.calls.ms(0.5):.1f}", f"{rest.calls.ms(0.5):.1f}",
            f"{rest.calls.ms(0.5) / grpc_run.calls.ms(0.5):.2f}",
        ])  # fmt: skip
        checks.append((f"REST/gRPC creates/s at {clients} clients", ratio, 0.95))
    table(["clients", "gRPC/s", "REST/s", "REST/gRPC", "gRPC p50", "REST p50", "p50 ratio"], rows)
    return checks
