"""Benchmark: what an upload does to everyone else — a cheap call's latency (GetBucket over gRPC,
one client in a process of its own, a call every 2 ms) while one gRPC upload streams through the
same bucketd, against the same calls with nothing else running, in alternating rounds.

One of the numbers behind where bucketd hashes (docs/known-gaps.md): on the event loop the bytes
are in cache (~0.08 CPU-s/GiB less), but the loop then also runs the SHA-256 of every upload and
other calls wait behind it; in a worker thread (what bucketd does) the loop only hands each
chunk over. bucketd runs as `bucketd serve` in its own process, against the S3 this script
starts (Ceph's RGW by default) and its own MongoDB stand-in, as in bench/upload.py. On a machine
the upload already keeps busy, the calls slow down for want of CPU too: compare with the idle
rows of the same run.

    .venv/bin/python -m bench.busy [--mib 512] [--rounds 2] [--chunk-mib 1] [--s3 rgw|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from grpc import aio

from bench import s3 as s3_choice
from bench.create import Result
from bench.s3 import S3, s3_for
from bench.upload import setup, start_bucketd, via_grpc
from bucketd.server.domain import keys
from bucketd.v1 import buckets_pb2, buckets_pb2_grpc

IDLE_SECONDS = 3.0
PAUSE_SECONDS = 0.002  # between two calls of the one client


async def latencies(target: str, metadata: tuple[tuple[str, str], ...]) -> list[float]:
    """GetBucket, one call after the other, until stdin closes: each call's seconds."""
    loop = asyncio.get_running_loop()
    closed = loop.run_in_executor(None, sys.stdin.read)  # returns at end of input
    measured: list[float] = []
    async with aio.insecure_channel(target) as channel:
        stub = buckets_pb2_grpc.BucketServiceStub(channel)
        request = buckets_pb2.GetBucketRequest(bucket_identifier="b")
        await stub.GetBucket(request, metadata=metadata)  # the channel is connected
        print("ready", flush=True)
        while not closed.done():
            started = time.perf_counter()
            await stub.GetBucket(request, metadata=metadata)
            measured.append(time.perf_counter() - started)
            await asyncio.sleep(PAUSE_SECONDS)
    return measured


class Sampler:
    """The calls, made by a process of their own: the one that uploads is busy sending."""

    def __init__(self, target: str, key: str) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "bench.busy", "--sample", target],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "BUCKETD_BENCH_KEY": key},
        )

    async def started(self) -> None:
        """The calls have begun (the first one, which connects, is not counted)."""
        assert self._child.stdout is not None
        line = await asyncio.to_thread(self._child.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"the sampling process did not start: {line!r}")

    def stop(self) -> list[float]:
        output, _ = self._child.communicate()  # closes stdin: the calls end
        measured: list[float] = json.loads(output)
        return measured


def _sample(target: str) -> None:
    key = os.environ["BUCKETD_BENCH_KEY"]
    metadata = (("authorization", f"Bearer {key}"), ("x-namespace", "default"))
    print(json.dumps(asyncio.run(latencies(target, metadata))))


async def bench(s3: S3, mib: int, *, rounds: int, chunk_mib: int) -> None:
    key = keys.generate_key(test=True)
    process, target, url = start_bucketd(s3, key)
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
    metadata = tuple((name.lower(), value) for name, value in headers.items())
    idle: list[float] = []
    busy: list[float] = []
    try:
        await setup(url, headers)
        for index in range(rounds):
            sampler = Sampler(target, key)
            await sampler.started()
            await asyncio.sleep(IDLE_SECONDS)
            idle += sampler.stop()
            sampler = Sampler(target, key)
            await sampler.started()
            salt = f"busy {index}".encode()
            await via_grpc(target, metadata, mib, salt, None, chunk_mib=chunk_mib)
            busy += sampler.stop()
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(
        f"GetBucket over gRPC against {s3.kind} S3, {rounds} rounds; the upload: {mib} MiB over "
        f"gRPC in {chunk_mib} MiB chunks"
    )
    print(f"{'':<22} {'calls':>6} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7}")
    for label, measured in (("nothing else running", idle), ("during the upload", busy)):
        p50, p90, p99 = (Result(measured, elapsed=0.0).percentile(q) for q in (0.5, 0.9, 0.99))
        print(f"{label:<22} {len(measured):6d} {p50:7.2f} {p90:7.2f} {p99:7.2f}")
    ratio = statistics.median(busy) / statistics.median(idle)
    print(f"p50 during the upload / idle: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mib", type=int, default=512, help="size of each upload, in MiB")
    parser.add_argument("--rounds", type=int, default=2, help="idle and busy rounds, alternated")
    parser.add_argument("--chunk-mib", type=int, default=1, choices=(1, 2), help="chunk size")
    parser.add_argument("--sample", metavar="TARGET", help=argparse.SUPPRESS)
    s3_choice.add_argument(parser)
    args = parser.parse_args()
    if args.sample:
        _sample(args.sample)
        return
    if args.rounds < 1 or args.mib < 1:
        parser.error("--rounds and --mib must be at least 1")
    with s3_for(args.s3) as s3:
        asyncio.run(bench(s3, args.mib, rounds=args.rounds, chunk_mib=args.chunk_mib))


if __name__ == "__main__":
    main()
