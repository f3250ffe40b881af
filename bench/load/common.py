"""What every part of the load benchmark shares: one `bucketd serve` process as a deployment
runs it (admission on, the default memory budget) on a MongoDB stand-in of the benchmark's own,
tenants with keys of their own, closed-loop clients and what they measured."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from bench.floors import cpu_seconds
from bench.s3 import S3
from bench.upload import rss_bytes
from bucketd.standins.launch import mongo_server

MIB = 1024 * 1024
# A call returns its status ("200", "OK", "503", "RESOURCE_EXHAUSTED"…) and, when it was refused
# for now, the delay it was asked to wait before the next one (Retry-After, RetryInfo).
Outcome = tuple[str, float]
OK = ("200", "OK", "204")


@dataclass
class Calls:
    """What closed-loop clients measured: every call's status, the latencies of the successful
    ones, how many succeeded within the measured window, and the window's length."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    in_window: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Successful calls per second, of those that ended within the window."""
        return self.in_window / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> float:
        """The q-quantile of the successful calls' latency, in ms (nan when none succeeded)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def errors(self) -> str:
        """The statuses other than success, with their counts ("-" when none)."""
        failed = {k: v for k, v in sorted(self.statuses.items()) if k not in OK}
        return " ".join(f"{k}x{v}" for k, v in failed.items()) or "-"


async def closed_loop(
    call: Callable[[int], Awaitable[Outcome]], *, clients: int, seconds: float
) -> Calls:
    """`clients` callers, each calling again as soon as its last call answered (after the
    retry delay a refusal asked for, as a well-behaved client waits), for `seconds`. Calls
    still running then are waited for (their latency counts, for the p99's sake), but the
    rate counts only the calls that ended within the window."""
    calls = Calls(elapsed=seconds)
    stop = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            status, retry_after = await call(index)
            ended = time.perf_counter()
            calls.statuses[status] += 1
            if status in OK:
                calls.latencies.append(ended - started)
                calls.in_window += ended <= stop
            elif retry_after:
                await asyncio.sleep(min(retry_after, max(0.0, stop - ended)))

    await asyncio.gather(*(caller(index) for index in range(clients)))
    return calls


@dataclass
class Tenant:
    """An organization's key and namespace, as REST headers and gRPC metadata."""

    organization: str
    key: str
    namespace: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Namespace": self.namespace}

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple((k.lower(), v) for k, v in self.headers.items())


@dataclass
class Instance:
    """A running `bucketd serve` and the MongoDB stand-in under it."""

    process: subprocess.Popen[str]
    mongo_pid: int
    target: str  # gRPC host:port
    url: str  # REST base URL
    tenants: dict[str, Tenant]

    def cpu(self) -> tuple[float, float]:
        """CPU-seconds so far of bucketd and of the MongoDB stand-in."""
        return cpu_seconds(self.process.pid), cpu_seconds(self.mongo_pid)

    def rss(self) -> int:
        return rss_bytes(self.process.pid)


def _env(s3: S3, mongo: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "MONGODB_URI": mongo,
        "MONGODB_DATABASE": "bucketd_load",
        "S3_ENDPOINT_URL": s3.url,
        "S3_BUCKET": "bucketd-load",
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "BUCKETD_LOG_LEVEL": "warning",
        # a deleted run's bytes leave S3 at the next sweep: RGW's memstore slows down as it fills
        "BUCKETD_BLOB_GRACE_SECONDS": "0",
        "BUCKETD_SWEEP_SECONDS": "1",
        **extra,
    }
    for name in ("BUCKETD_MAX_UPLOADS", "BUCKETD_MEMORY_BUDGET_BYTES", "BUCKETD_STANDIN"):
        if name not in extra:
            env.pop(name, None)  # the deployment's defaults, not the caller's shell
    return env


def _tenant(env: dict[str, str], organization: str) -> Tenant:
    namespace = f"{organization}-ns"
    issued = subprocess.run(
        [sys.executable, "-m", "bucketd", "keys", "create", "--org", organization, "--test",
         "--namespace", namespace],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Tenant(organization, issued.stdout.strip().splitlines()[-1], namespace)


@contextlib.contextmanager
def running(
    s3: S3, *, organizations: tuple[str, ...], settings: dict[str, str] | None = None
) -> Iterator[Instance]:
    """One `bucketd serve` (one process, ports the OS picks) on a fresh MongoDB stand-in, with
    a key and a namespace for each organization; `settings` are environment variables."""
    with mongo_server() as mongo:
        env = _env(s3, mongo.url, settings or {})
        tenants = {name: _tenant(env, name) for name in organizations}
        argv = [sys.executable, "-m", "bucketd", "serve", "--grpc-port", "0", "--http-port", "0"]
        log = os.environ.get("BENCH_LOAD_SERVER_LOG")  # a file for bucketd's warnings
        stderr = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
        ) as process:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(2)]  # gRPC: …, REST: …
            try:
                yield Instance(
                    process, mongo.process.pid, lines[0].split()[1], lines[1].split()[1], tenants
                )
            finally:
                process.terminate()
                process.wait(timeout=30)


def table(header: list[str], rows: list[list[str]]) -> None:
    """A plain table, columns as wide as their widest cell, the first left-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
