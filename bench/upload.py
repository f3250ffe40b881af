"""Benchmark: stream the same bytes (1 GiB by default) (a) through gRPC UploadObject, (b) through
the HTTP route, (c) straight to the same S3 server with aiobotocore multipart — in one run.

Prints MB/s for each, the ratios (a)/(c) and (b)/(c), and the peak RSS growth of the bucketd
process during (a) and (b) (sampled from /proc). bucketd runs as `bucketd serve` in its own
process against this script's S3 stand-in (moto) and its own MongoDB stand-in. The stored object
is deleted after each run so that every run writes the bytes (content addressing would skip it).
By default the client sends the SHA-256 up front (expected_sha256 / ?sha256=), which lets bucketd
write the parts at the content address in place; --without-sha256 measures the other path, where
bucketd writes a temporary object and copies it to its address once the hash is known.

    .venv/bin/python bench/upload.py [--mib 1024] [--without-sha256]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
from grpc import aio

from bucketd.server.domain import keys
from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import ensure_bucket, open_s3
from bucketd.standins.launch import s3_standin
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

MIB = 1024 * 1024
BLOCK = os.urandom(MIB)


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
    target: str, metadata: tuple[tuple[str, str], ...], mib: int, digest: str | None
) -> str:
    async def requests() -> AsyncIterator[pb.UploadObjectRequest]:
        blob = pb.UploadBlobHeader(
            property="data", mime_type="text/plain", filename="big.bin", expected_sha256=digest
        )
        yield pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(bucket_identifier="b", blobs=[blob])
        )
        for index in range(mib):
            chunk = pb.BlobChunk(blob_index=0, write_offset=index * MIB, data=BLOCK)
            yield pb.UploadObjectRequest(chunk=chunk)

    async with aio.insecure_channel(target) as channel:
        reply = await objects_pb2_grpc.ObjectServiceStub(channel).UploadObject(
            requests(), metadata=metadata
        )
        return reply.object.object_id


async def via_http(url: str, headers: dict[str, str], mib: int, digest: str | None) -> str:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(mib):
            yield BLOCK

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


async def direct(settings: Settings, mib: int) -> None:
    async with open_s3(settings) as s3:
        await ensure_bucket(s3, "direct", region=settings.aws_region)
        upload = await s3.create_multipart_upload(Bucket="direct", Key="big.bin")
        parts: list[dict[str, object]] = []
        buffer = bytearray()
        for index in range(mib):
            buffer += BLOCK
            if len(buffer) >= 8 * MIB or index == mib - 1:
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
        await s3.delete_object(Bucket="direct", Key="big.bin")


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


def start_bucketd(endpoint: str, key: str) -> tuple[subprocess.Popen[str], str, str]:
    env = {
        **os.environ,
        "S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "BUCKETD_DEV_API_KEY": key,
    }
    env.pop("MONGODB_URI", None)  # bucketd starts its own MongoDB stand-in and bootstraps
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


def digest_of(mib: int) -> str:
    hasher = hashlib.sha256()
    for _ in range(mib):
        hasher.update(BLOCK)
    return hasher.hexdigest()


async def bench(endpoint: str, mib: int, *, with_sha256: bool) -> None:
    settings = Settings(
        s3_endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    key = keys.generate_key(test=True)
    process, target, url = start_bucketd(endpoint, key)
    try:
        headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
        metadata = tuple((k.lower(), v) for k, v in headers.items())
        await setup(url, headers)
        size_mb = mib * MIB / 1e6
        digest = digest_of(mib) if with_sha256 else None
        started = time.perf_counter()
        await direct(settings, mib)
        direct_rate = size_mb / (time.perf_counter() - started)
        rows: list[tuple[str, float, int]] = []
        for name in ("grpc", "http"):
            with peak_rss_growth(process.pid) as sampled:
                started = time.perf_counter()
                if name == "grpc":
                    object_id = await via_grpc(target, metadata, mib, digest)
                else:
                    object_id = await via_http(url, headers, mib, digest)
                rate = size_mb / (time.perf_counter() - started)
            await delete_object(url, headers, object_id)
            rows.append((name, rate, sampled[0]))
        print(f"{mib} MiB per run, SHA-256 sent up front: {'yes' if digest else 'no'}")
        print(f"(c) direct S3 multipart : {direct_rate:8.1f} MB/s")
        for name, rate, growth in rows:
            label = "(a) gRPC UploadObject  " if name == "grpc" else "(b) HTTP upload route  "
            print(
                f"{label}: {rate:8.1f} MB/s   ratio to (c) {rate / direct_rate:.2f}   "
                f"peak RSS growth {growth / MIB:.1f} MiB"
            )
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of each run, in MiB")
    parser.add_argument("--without-sha256", action="store_true", help="do not send the hash")
    args = parser.parse_args()
    with s3_standin() as endpoint:
        asyncio.run(bench(endpoint, args.mib, with_sha256=not args.without_sha256))


if __name__ == "__main__":
    main()
