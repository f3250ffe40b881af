"""Benchmark: stream the same bytes (1 GiB by default) (a) through gRPC UploadObject (in 1 MiB
messages, then in 2 MiB ones, the largest the server takes), (b) through
the HTTP route, (d) through the HTTP route as a resumable upload in 4 requests, (e) through
bucketd.client's upload_file (a session, the file read from disk), and (c) straight
to the same S3 server as a user would without bucketd — in one run. The baseline (c) is the
fastest of aiobotocore multipart (parts one after the other) and boto3's managed transfer (10
threads), with bucketd's part size (16 MiB), and boto3's managed transfer with its own (8 MiB).

Prints for each: MB/s, the ratio to the best (c), the peak RSS growth of the bucketd process
(sampled from /proc), and the CPU-seconds per GiB moved of bucketd, of the S3 server's processes
and of the client (this process), from /proc/<pid>/stat; and the hashing floor: what SHA-256 and
CRC32C of every byte (the work bucketd cannot skip) cost on this machine, with the other floors of
bench/floors.py. bucketd runs as
`bucketd serve` in its own process against the S3 this script starts (Ceph's RGW by default,
moto with --s3 moto; see bench/s3.py) and its own MongoDB stand-in. Each run's bytes are
fresh (its first block differs), so deduplication never skips the work. By default the
client does not send the SHA-256 (the common case); --with-sha256 sends it up front
(expected_sha256 / ?sha256=). Either way bucketd writes the parts once, at their final key.

With --rounds N every path runs N times, in turn (so that a slow minute of a shared machine
weighs on every path alike), and the table shows each path's median, with the range of
bucketd's CPU-seconds per GiB.

    .venv/bin/python -m bench.upload [--mib 1024] [--rounds 1] [--with-sha256] [--s3 rgw|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from grpc import aio

from bench import s3 as s3_choice
from bench.floors import cpu_seconds, grpc_receive_floor, hashing_floor, loopback_send_floor
from bench.s3 import S3, s3_for
from bucketd.client import AsyncClient
from bucketd.server.domain import keys
from bucketd.server.services.content_writer import PART_BYTES
from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import ensure_bucket, open_s3
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

MIB = 1024 * 1024
PART = PART_BYTES  # bucketd's S3 part size, for the direct uploads too
CHECKSUMS: tuple[Literal["when_supported", "when_required"], ...] = (
    "when_supported",
    "when_required",
)
BLOCK = os.urandom(MIB)
SWEEP_SECONDS = 1.0


def blocks(mib: int, salt: bytes) -> Iterator[bytes]:
    """`mib` MiB of bytes; the salt makes the first block (and so the whole) unique per run."""
    yield salt + BLOCK[len(salt) :]
    for _ in range(mib - 1):
        yield BLOCK


GIB = 1024 * MIB


@contextmanager
def cpu_per_gib(pids: dict[str, tuple[int, ...]], moved: int) -> Iterator[dict[str, float]]:
    """CPU-seconds per GiB moved of each group of processes, filled in on exit."""
    before = {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}
    result: dict[str, float] = {}
    try:
        yield result
    finally:
        for name, group in pids.items():
            spent = sum(cpu_seconds(pid) for pid in group) - before[name]
            result[name] = spent / (moved / GIB)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@contextmanager
def peak_rss_growth(pid: int) -> Iterator[list[int]]:
    """Samples the process's RSS every 20 ms; yields [growth] filled in on exit."""
    baseline, peak, done = rss_bytes(pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(pid))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result = [0]
    try:
        yield result
    finally:
        done.set()
        thread.join()
        result[0] = max(0, peak[0] - baseline)


async def via_grpc(
    target: str,
    metadata: tuple[tuple[str, str], ...],
    mib: int,
    salt: bytes,
    digest: str | None,
    *,
    chunk_mib: int = 1,
) -> str:
    async def requests() -> AsyncIterator[pb.UploadObjectRequest]:
        blob = pb.UploadBlobHeader(
            property="data", mime_type="text/plain", filename="big.bin", expected_sha256=digest
        )
        yield pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(bucket_identifier="b", blobs=[blob])
        )
        pending: list[bytes] = []
        for index, block in enumerate(blocks(mib, salt)):
            pending.append(block)
            if len(pending) == chunk_mib or index == mib - 1:
                offset = (index + 1 - len(pending)) * MIB
                data = b"".join(pending)
                chunk = pb.BlobChunk(blob_index=0, write_offset=offset, data=data)
                pending = []
                yield pb.UploadObjectRequest(chunk=chunk)

    async with aio.insecure_channel(target) as channel:
        reply = await objects_pb2_grpc.ObjectServiceStub(channel).UploadObject(
            requests(), metadata=metadata
        )
        return reply.object.object_id


async def via_http(
    url: str, headers: dict[str, str], mib: int, salt: bytes, digest: str | None
) -> str:
    async def body() -> AsyncIterator[bytes]:
        for block in blocks(mib, salt):
            yield block

    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1/buckets/b/objects/upload?property=data&filename=big.bin"
            + (f"&sha256={digest}" if digest else ""),
            data=body(),
            headers={**headers, "Content-Type": "text/plain"},
        ) as reply,
    ):
        assert reply.status == 200, await reply.text()
        object_id: str = (await reply.json())["object_id"]
        return object_id


async def via_client(target: str, key: str, path: Path) -> str:
    """bucketd.client's upload_file: a session, the file read from disk, its SHA-256 checked."""
    async with AsyncClient(target, api_key=key, namespace="default") as client:
        obj = await client.upload_file("b", path, property="data", mime_type="text/plain")
        return str(obj["object_id"])


def write_file(path: Path, mib: int, salt: bytes) -> None:
    with path.open("wb") as out:
        for block in blocks(mib, salt):
            out.write(block)


async def via_http_resumable(
    url: str, headers: dict[str, str], mib: int, salt: bytes, digest: str | None
) -> str:
    """The same bytes as a resumable upload in 4 requests: a POST with `Upload-Complete: ?0`,
    two PATCH appends and a last one with `?1` (each a whole number of parts but the
    last, so every offset advances by all it sent)."""
    source = blocks(mib, salt)
    quarter_mib = max(PART // MIB, (mib // 4) // (PART // MIB) * (PART // MIB))
    sizes = [quarter_mib] * 3 + [mib - 3 * quarter_mib]

    async def body(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield next(source)

    create = f"{url}/v1/buckets/b/objects/upload?property=data&filename=big.bin" + (
        f"&sha256={digest}" if digest else ""
    )
    async with aiohttp.ClientSession() as http:
        first = {**headers, "Content-Type": "text/plain", "Upload-Complete": "?0"}
        async with http.post(create, data=body(sizes[0]), headers=first) as reply:
            assert reply.status == 201, await reply.text()
            location, offset = reply.headers["Location"], int(reply.headers["Upload-Offset"])
        for index, count in enumerate(sizes[1:], start=1):
            last = index == len(sizes) - 1
            append = {
                **headers,
                "Content-Type": "application/partial-upload",
                "Upload-Offset": str(offset),
                "Upload-Complete": "?1" if last else "?0",
            }
            async with http.patch(f"{url}{location}", data=body(count), headers=append) as reply:
                assert reply.status == (200 if last else 204), await reply.text()
                if last:
                    object_id: str = (await reply.json())["object_id"]
                    return object_id
                offset = int(reply.headers["Upload-Offset"])
    raise AssertionError("unreachable")


async def direct_aiobotocore(settings: Settings, mib: int) -> float:
    """MB/s of a multipart upload by hand: parts one after the other."""
    started = time.perf_counter()
    async with open_s3(settings) as s3:
        upload = await s3.create_multipart_upload(Bucket="direct", Key="big.bin")
        parts: list[dict[str, object]] = []
        buffer = bytearray()
        for index, block in enumerate(blocks(mib, b"aio")):
            buffer += block
            if len(buffer) >= PART or index == mib - 1:
                reply = await s3.upload_part(
                    Bucket="direct",
                    Key="big.bin",
                    PartNumber=len(parts) + 1,
                    UploadId=upload["UploadId"],
                    Body=bytes(buffer),
                )
                parts.append({"ETag": reply["ETag"], "PartNumber": len(parts) + 1})
                buffer = bytearray()
        await s3.complete_multipart_upload(
            Bucket="direct",
            Key="big.bin",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": parts},
        )
    rate = mib * MIB / 1e6 / (time.perf_counter() - started)
    async with open_s3(settings) as s3:
        await s3.delete_object(Bucket="direct", Key="big.bin")
    return rate


class BlocksFile(io.RawIOBase):
    """`mib` MiB of `blocks` as a file, for boto3's managed transfer (bench/download.py too)."""

    def __init__(self, mib: int, salt: bytes = b"boto3") -> None:
        self._blocks = blocks(mib, salt)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._rest:
            self._rest = next(self._blocks, b"")
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def direct_boto3(
    settings: Settings,
    mib: int,
    *,
    checksums: Literal["when_supported", "when_required"],
    part_bytes: int = PART,
) -> float:
    """MB/s of boto3's managed transfer (upload_fileobj): 10 threads."""
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
        config=BotoConfig(
            request_checksum_calculation=checksums, response_checksum_validation=checksums
        ),
    )
    config = TransferConfig(
        multipart_threshold=part_bytes, multipart_chunksize=part_bytes, max_concurrency=10
    )
    started = time.perf_counter()
    s3.upload_fileobj(io.BufferedReader(BlocksFile(mib)), "direct", "big.bin", Config=config)
    rate = mib * MIB / 1e6 / (time.perf_counter() - started)
    s3.delete_object(Bucket="direct", Key="big.bin")
    return rate


async def delete_object(url: str, headers: dict[str, str], object_id: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.delete(f"{url}/v1/buckets/b/objects/{object_id}", headers=headers) as reply,
    ):
        assert reply.status == 204, await reply.text()


async def setup(url: str, headers: dict[str, str]) -> None:
    schema = {"bucket_name": "b", "bucket_schema": {"properties": {"data": {"type": "text"}}}}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/v1/buckets", json=schema, headers=headers) as reply,
    ):
        assert reply.status == 200, await reply.text()


def start_bucketd(s3: S3, key: str) -> tuple[subprocess.Popen[str], str, str]:
    env = {
        **os.environ,
        "S3_ENDPOINT_URL": s3.url,
        "S3_BUCKET": "bucketd",
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "BUCKETD_DEV_API_KEY": key,
        "BUCKETD_STANDIN": "mongodb",  # its own MongoDB stand-in, on purpose: it bootstraps
        "BUCKETD_LOG_LEVEL": "warning",
        # a deleted run's bytes leave S3 at the next sweep: RGW's memstore slows down as it fills
        "BUCKETD_BLOB_GRACE_SECONDS": "0",
        "BUCKETD_SWEEP_SECONDS": str(SWEEP_SECONDS),
    }
    env.pop("MONGODB_URI", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bucketd", "serve", "--grpc-port", "0", "--http-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(4)]  # gRPC, REST, API key, namespace
    return process, lines[0].split()[1], lines[1].split()[1]


def digest_of(mib: int, salt: bytes) -> str:
    hasher = hashlib.sha256()
    for block in blocks(mib, salt):
        hasher.update(block)
    return hasher.hexdigest()


@dataclass
class Row:
    """One path's measurements in one round."""

    name: str
    rate: float  # MB/s
    rss_growth: int  # bytes; 0 for the direct uploads (bucketd is not involved)
    cpu: dict[str, float]  # CPU-seconds per GiB, of "bucketd", "s3" and "client"


async def one_round(
    s3: S3,
    process: subprocess.Popen[str],
    urls: tuple[str, str],
    key: str,
    mib: int,
    *,
    with_sha256: bool,
    index: int,
) -> list[Row]:
    """Every path once: the direct uploads first, then bucketd's."""
    settings = settings_for(s3)
    target, url = urls
    moved, size_mb = mib * MIB, mib * MIB / 1e6
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
    metadata = tuple((k.lower(), v) for k, v in headers.items())
    pids = {"bucketd": (process.pid,), "s3": s3.pids, "client": (os.getpid(),)}
    rows: list[Row] = []
    with cpu_per_gib(pids, moved) as cpu:
        aio_rate = await direct_aiobotocore(settings, mib)
    rows.append(Row("aiobotocore", aio_rate, 0, cpu))
    for checksums in CHECKSUMS:
        with cpu_per_gib(pids, moved) as cpu:
            rate = await asyncio.to_thread(direct_boto3, settings, mib, checksums=checksums)
        rows.append(Row(f"boto3 {checksums}", rate, 0, cpu))
    with cpu_per_gib(pids, moved) as cpu:  # boto3's own default part size
        rate = await asyncio.to_thread(
            direct_boto3, settings, mib, checksums="when_required", part_bytes=8 * MIB
        )
    rows.append(Row("boto3 8 MiB", rate, 0, cpu))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "big.bin"
        write_file(source, mib, f"client {index}".encode())  # read back from the page cache
        for name in ("grpc", "grpc 2 MiB", "client", "http", "resumable"):
            salt = f"{name} {index}".encode()  # fresh bytes in every round
            digest = digest_of(mib, salt) if with_sha256 else None
            with peak_rss_growth(process.pid) as sampled, cpu_per_gib(pids, moved) as cpu:
                started = time.perf_counter()
                if name.startswith("grpc"):
                    chunk_mib = 2 if name == "grpc 2 MiB" else 1
                    object_id = await via_grpc(
                        target, metadata, mib, salt, digest, chunk_mib=chunk_mib
                    )
                elif name == "client":
                    object_id = await via_client(target, key, source)
                elif name == "http":
                    object_id = await via_http(url, headers, mib, salt, digest)
                else:
                    object_id = await via_http_resumable(url, headers, mib, salt, digest)
                rate = size_mb / (time.perf_counter() - started)
            await delete_object(url, headers, object_id)
            await asyncio.sleep(2 * SWEEP_SECONDS)  # not measured: the janitor deletes the bytes
            rows.append(Row(name, rate, sampled[0], cpu))
    return rows


def medians(rounds: list[list[Row]]) -> tuple[list[Row], dict[str, tuple[float, float]]]:
    """Each path's median rate and CPU over the rounds, its largest RSS growth; and the range
    (least, most) of bucketd's CPU-seconds per GiB."""
    merged, spread = [], {}
    for runs in zip(*rounds, strict=True):
        groups = runs[0].cpu.keys()
        cpu = {group: statistics.median(run.cpu[group] for run in runs) for group in groups}
        rate = statistics.median(run.rate for run in runs)
        merged.append(Row(runs[0].name, rate, max(run.rss_growth for run in runs), cpu))
        spent = [run.cpu["bucketd"] for run in runs]
        spread[runs[0].name] = (min(spent), max(spent))
    return merged, spread


def settings_for(s3: S3) -> Settings:
    return Settings(
        s3_endpoint_url=s3.url, aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key
    )


async def bench(s3: S3, mib: int, *, with_sha256: bool, rounds: int) -> None:
    settings = settings_for(s3)
    key = keys.generate_key(test=True)
    process, target, url = start_bucketd(s3, key)
    try:
        await setup(url, {"Authorization": f"Bearer {key}", "X-Namespace": "default"})
        async with open_s3(settings) as client:
            await ensure_bucket(client, "direct", region=settings.aws_region)
        measured = [
            await one_round(
                s3, process, (target, url), key, mib, with_sha256=with_sha256, index=index
            )
            for index in range(rounds)
        ]
        rows, spread = medians(measured)
        _report(s3, mib, with_sha256=with_sha256, rows=rows, spread=spread, rounds=rounds)
        await asyncio.to_thread(_report_floors, min(mib, 512))  # they run event loops of their own
    finally:
        process.terminate()
        process.wait(timeout=30)


DIRECT = ("aiobotocore", "boto3")  # the rows of the uploads straight to S3: the baseline
LABELS = {
    "aiobotocore": "(c) direct, aiobotocore multipart",
    "boto3 when_supported": "(c) direct, boto3 transfer, CRC32",
    "boto3 when_required": "(c) direct, boto3 transfer, no CRC",
    "boto3 8 MiB": "(c) same, boto3's 8 MiB parts",
    "grpc": "(a) gRPC UploadObject",
    "grpc 2 MiB": "(a) gRPC, 2 MiB chunks",
    "http": "(b) HTTP upload route",
    "resumable": "(d) HTTP resumable, 4 requests",
    "client": "(e) bucketd.client upload_file",
}


def _report(
    s3: S3,
    mib: int,
    *,
    with_sha256: bool,
    rows: list[Row],
    spread: dict[str, tuple[float, float]],
    rounds: int,
) -> None:
    direct_rate = max(row.rate for row in rows if row.name.startswith(DIRECT))
    print(
        f"{mib} MiB per run against {s3.kind} S3, "
        f"SHA-256 sent up front: {'yes' if with_sha256 else 'no'}"
        + (f"; medians of {rounds} rounds (each runs every path in turn)" if rounds > 1 else "")
    )
    print(
        f"{'path':<36} {'MB/s':>7} {'ratio':>6} {'RSS+ MiB':>9}   CPU-s/GiB: "
        f"{'bucketd':>7} {'S3':>6} {'client':>6}" + ("   bucketd range" if rounds > 1 else "")
    )
    for row in rows:
        direct = row.name.startswith(DIRECT)
        bucketd = "      -" if direct else f"{row.cpu['bucketd']:7.2f}"
        rss = "        -" if direct else f"{row.rss_growth / MIB:9.1f}"
        least, most = spread[row.name]
        print(
            f"{LABELS[row.name]:<36} {row.rate:7.1f} {row.rate / direct_rate:6.2f} {rss}"
            f"              {bucketd} {row.cpu['s3']:6.2f} {row.cpu['client']:6.2f}"
            + (f"   {least:.2f}-{most:.2f}" if rounds > 1 and not direct else "")
        )


def _report_floors(mib: int) -> None:
    """The least the gRPC route could cost: hashing + a bare gRPC receive + the loopback send."""
    hashing, send = hashing_floor(), loopback_send_floor(mib, MIB)
    receive = {chunk_mib: grpc_receive_floor(mib, chunk_mib * MIB) for chunk_mib in (1, 2)}
    print(
        f"floors (bench/floors.py), CPU-s/GiB: hashing (SHA-256 + CRC32C) {hashing:.2f}, "
        f"loopback send {send:.2f}, bare grpcio receive {receive[1]:.2f} (1 MiB messages) "
        f"and {receive[2]:.2f} (2 MiB); their sum, the least the gRPC route could cost: "
        f"{hashing + send + receive[1]:.2f} and {hashing + send + receive[2]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of each run, in MiB")
    parser.add_argument("--with-sha256", action="store_true", help="send the hash up front")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every path this many times, in turn, and print the medians",
    )
    s3_choice.add_argument(parser)
    args = parser.parse_args()
    if args.rounds < 1 or args.mib < 1:
        parser.error("--rounds and --mib must be at least 1")
    with s3_for(args.s3) as s3:
        asyncio.run(bench(s3, args.mib, with_sha256=args.with_sha256, rounds=args.rounds))


if __name__ == "__main__":
    main()
