"""Benchmark: read the same bytes back (a) through gRPC ReadObject (grpc.aio, the slices
counted, nothing checked), (b) through the HTTP content route (aiohttp), (e) through
bucketd.client's download (each slice's CRC32C and the whole SHA-256 checked, written to a file),
and (c) straight from the same S3 as a user would without bucketd: boto3's managed download
(download_fileobj) with a few TransferConfigs, the best of which is the baseline — in one run,
for one reader of --mib (1 GiB by default) and for --readers at once (8 by default) of
--reader-mib each (256 MiB: 8 GiB at once is more than a shared 2-core machine moves in a
useful time).

Prints for each: MB/s (all readers' bytes over the wall time), the ratio to the best (c), the
peak RSS growth of the bucketd process and the CPU-seconds per GiB moved of bucketd, of the S3
server and of the client (this process), as bench/upload.py does (its helpers); then one slow
reader (gRPC and HTTP) that reads at ~1 MB/s for --slow-seconds: bucketd's RSS growth while it
holds the stream open. The objects are uploaded once, through bucketd (and, for (c), to a bucket
of their own). With --rounds N every path runs N times in turn, and the table shows medians,
with the ranges of MB/s and of bucketd's CPU-seconds per GiB.

    .venv/bin/python -m bench.download [--mib 1024] [--readers 8] [--reader-mib 256]
        [--rounds 1] [--slow-seconds 10] [--s3 rgw|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import boto3
from boto3.s3.transfer import TransferConfig
from grpc import aio

from bench import s3 as s3_choice
from bench.s3 import S3, s3_for
from bench.upload import (
    MIB,
    BlocksFile,
    cpu_per_gib,
    peak_rss_growth,
    settings_for,
    setup,
    start_bucketd,
    via_grpc,
)
from bucketd.client import AsyncClient
from bucketd.server.domain import keys
from bucketd.server.storage.s3 import ensure_bucket, open_s3
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

# boto3 download configs: (part size in MiB, threads). boto3's default is (8, 10).
CONFIGS = ((8, 10), (16, 10), (32, 8))
SLOW_BYTES_PER_SECOND = 1_000_000


class _Sink(io.RawIOBase):
    """A seekable file that forgets what it is given (boto3 writes parts at their offsets)."""

    def __init__(self) -> None:
        self.position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset if whence == 0 else self.position + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def write(self, data: Any) -> int:
        self.position += len(data)
        return len(data)


def _boto3(s3: S3) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
    )


def direct(s3: S3, key: str, config: tuple[int, int]) -> None:
    part, threads = config
    transfer = TransferConfig(
        multipart_threshold=part * MIB, multipart_chunksize=part * MIB, max_concurrency=threads
    )
    _boto3(s3).download_fileobj("direct", key, _Sink(), Config=transfer)


@dataclass(frozen=True)
class Target:
    """Where and as whom the readers read."""

    grpc: str
    http: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Namespace": "default"}

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple((k.lower(), v) for k, v in self.headers.items())


def _request(object_id: str) -> pb.ReadObjectRequest:
    return pb.ReadObjectRequest(bucket_identifier="b", object_identifier=object_id, blob="0")


async def via_grpc_read(
    target: Target, object_id: str, bytes_per_second: float | None = None
) -> int:
    got, started = 0, time.perf_counter()
    async with aio.insecure_channel(target.grpc) as channel:
        stub = objects_pb2_grpc.ObjectServiceStub(channel)
        async for message in stub.ReadObject(_request(object_id), metadata=target.metadata):
            got += len(message.checksummed_data.content)
            if bytes_per_second:
                await asyncio.sleep(max(0, got / bytes_per_second - time.perf_counter() + started))
    return got


async def via_http_read(
    target: Target, object_id: str, bytes_per_second: float | None = None
) -> int:
    got, started = 0, time.perf_counter()
    url = f"{target.http}/v1/buckets/b/objects/{object_id}/blobs/0/content"
    async with aiohttp.ClientSession() as http, http.get(url, headers=target.headers) as reply:
        assert reply.status == 200, await reply.text()
        async for piece in reply.content.iter_chunked(MIB):
            got += len(piece)
            if bytes_per_second:
                await asyncio.sleep(max(0, got / bytes_per_second - time.perf_counter() + started))
    return got


async def via_client_read(target: Target, object_id: str, folder: Path) -> int:
    """bucketd.client's download, into a file of its own (readers at once write apart)."""
    async with AsyncClient(target.grpc, api_key=target.api_key, namespace="default") as client:
        path = await client.download("b", object_id, Path(tempfile.mkstemp(dir=folder)[1]))
    size = path.stat().st_size
    path.unlink()
    return size


@dataclass(frozen=True)
class Blob:
    """An object stored through bucketd, and its copy in the direct bucket."""

    object_id: str
    direct_key: str
    size: int


@dataclass
class Row:
    name: str
    rate: float  # MB/s
    rss_growth: int
    cpu: dict[str, float]


Reader = Callable[[], Awaitable[object]]  # one reader, start to end


async def measured(
    name: str, readers: list[Reader], moved: int, pids: dict[str, tuple[int, ...]], bucketd: int
) -> Row:
    with peak_rss_growth(bucketd) as rss, cpu_per_gib(pids, moved) as cpu:
        started = time.perf_counter()
        await asyncio.gather(*(reader() for reader in readers))
        rate = moved / 1e6 / (time.perf_counter() - started)
    return Row(name, rate, rss[0], cpu)


async def one_round(
    s3: S3, process: subprocess.Popen[str], target: Target, objects: dict[str, Blob], readers: int
) -> list[Row]:
    """Every path once, for one reader and for `readers` at once (of the same object): the
    direct downloads first."""
    pids = {"bucketd": (process.pid,), "s3": s3.pids, "client": (os.getpid(),)}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for group, count in (("one", 1), ("many", readers)):
            blob = objects[group]
            paths: dict[str, Reader] = {
                **{
                    f"direct {part}x{threads}": partial(
                        asyncio.to_thread, direct, s3, blob.direct_key, (part, threads)
                    )
                    for part, threads in CONFIGS
                },
                "grpc": partial(via_grpc_read, target, blob.object_id),
                "http": partial(via_http_read, target, blob.object_id),
                "client": partial(via_client_read, target, blob.object_id, Path(folder)),
            }
            for name, path in paths.items():
                row = await measured(
                    f"{group} {name}", [path] * count, blob.size * count, pids, process.pid
                )
                rows.append(row)
    return rows


async def slow_readers(
    target: Target, object_id: str, process: int, seconds: float
) -> dict[str, int]:
    """bucketd's RSS growth while one reader reads at ~1 MB/s for `seconds`."""
    grown = {}
    for name, path in (("grpc", via_grpc_read), ("http", via_http_read)):
        with peak_rss_growth(process) as rss:
            reading = asyncio.create_task(path(target, object_id, SLOW_BYTES_PER_SECOND))
            await asyncio.sleep(seconds)
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        grown[name] = rss[0]
    return grown


async def store(s3: S3, target: Target, name: str, mib: int) -> Blob:
    """`mib` MiB uploaded through bucketd (gRPC) and, the same bytes, to the direct bucket."""
    salt = name.encode()
    object_id = await via_grpc(target.grpc, target.metadata, mib, salt, None, chunk_mib=2)
    config = TransferConfig(multipart_chunksize=16 * MIB, max_concurrency=4)
    reader = io.BufferedReader(BlocksFile(mib, salt))
    await asyncio.to_thread(
        _boto3(s3).upload_fileobj, reader, "direct", f"{name}.bin", Config=config
    )
    return Blob(object_id, f"{name}.bin", mib * MIB)


def medians(rounds: list[list[Row]]) -> list[tuple[Row, tuple[float, float], tuple[float, float]]]:
    """Each path's median rate and CPU, its largest RSS growth; the ranges of its MB/s and of
    bucketd's CPU-seconds per GiB."""
    merged = []
    for runs in zip(*rounds, strict=True):
        cpu = {group: statistics.median(run.cpu[group] for run in runs) for group in runs[0].cpu}
        rates = [run.rate for run in runs]
        spent = [run.cpu["bucketd"] for run in runs]
        row = Row(runs[0].name, statistics.median(rates), max(run.rss_growth for run in runs), cpu)
        merged.append((row, (min(rates), max(rates)), (min(spent), max(spent))))
    return merged


def report(
    s3: S3, sizes: dict[str, int], readers: int, rounds: list[list[Row]], slow: dict[str, int]
) -> None:
    print(
        f"against {s3.kind} S3: one reader of {sizes['one'] // MIB} MiB, {readers} readers at "
        f"once of {sizes['many'] // MIB} MiB each; medians of {len(rounds)} round(s), each "
        "running every path in turn"
    )
    print(
        f"{'path':<22} {'MB/s':>7} {'ratio':>6} {'RSS+ MiB':>9}  CPU-s/GiB: {'bucketd':>7} "
        f"{'S3':>5} {'client':>6}   MB/s range   bucketd CPU range"
    )
    merged = medians(rounds)
    for group in ("one", "many"):
        rows = [entry for entry in merged if entry[0].name.startswith(group + " ")]
        best = max(row.rate for row, _, _ in rows if " direct " in row.name)
        for row, (slowest, fastest), (least, most) in rows:
            direct = " direct " in row.name
            rss = "-" if direct else f"{row.rss_growth / MIB:.1f}"
            bucketd = "-" if direct else f"{row.cpu['bucketd']:.2f}"
            spent = "" if direct else f"{least:.2f}-{most:.2f}"
            print(
                f"{row.name:<22} {row.rate:7.1f} {row.rate / best:6.2f} {rss:>9}"
                f"             {bucketd:>7} {row.cpu['s3']:5.2f} {row.cpu['client']:6.2f}"
                f"   {slowest:5.0f}-{fastest:<5.0f}  {spent}"
            )
    for name, grown in slow.items():
        print(f"slow reader ({name}, ~1 MB/s): bucketd RSS growth {grown / MIB:.1f} MiB")


async def bench(s3: S3, args: argparse.Namespace) -> None:
    key = keys.generate_key(test=True)
    process, grpc_target, url = start_bucketd(s3, key)
    target = Target(grpc_target, url, key)
    try:
        await setup(url, target.headers)
        async with open_s3(settings_for(s3)) as client:
            await ensure_bucket(client, "direct", region="us-east-1")
        objects = {
            "one": await store(s3, target, "one", args.mib),
            "many": await store(s3, target, "many", args.reader_mib),
        }
        rounds = []
        for _ in range(args.rounds):
            rounds.append(await one_round(s3, process, target, objects, args.readers))
        slow = await slow_readers(target, objects["one"].object_id, process.pid, args.slow_seconds)
        sizes = {name: blob.size for name, blob in objects.items()}
        report(s3, sizes, args.readers, rounds, slow)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="the one reader's MiB")
    parser.add_argument("--readers", type=int, default=8, help="readers at once")
    parser.add_argument("--reader-mib", type=int, default=256, help="each of them reads this")
    parser.add_argument("--rounds", type=int, default=1, help="every path this many times")
    parser.add_argument("--slow-seconds", type=float, default=10.0, help="the slow readers'")
    s3_choice.add_argument(parser)
    args = parser.parse_args()
    if min(args.mib, args.readers, args.reader_mib, args.rounds) < 1:
        parser.error("--mib, --readers, --reader-mib and --rounds must be at least 1")
    with s3_for(args.s3) as s3:
        asyncio.run(bench(s3, args))


if __name__ == "__main__":
    main()
