"""Benchmark: confirming a presigned upload (512 MiB by default) against one GET of the same file.

A confirm reads the uploaded file once, to hash and sniff it, and copies nothing: the file
becomes the object's blob where it was put. So its cost should be about one read of the bytes.
This script uploads the file through a presigned URL, then in one run times (a) the confirm
(synchronous) and (b) a GET of the same key straight from S3 with aiobotocore, and prints the
ratio. Runs bucketd in this process on the MongoDB stand-in (or MONGODB_URI) and the S3 of
bench/s3.py (Ceph's RGW by default, moto with --s3 moto, or S3_ENDPOINT_URL).

    .venv/bin/python -m bench.confirm [--mib 512] [--s3 rgw|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator

import aiohttp

from bench import s3 as s3_choice
from bench.create import tenant_headers
from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import open_s3
from bucketd.standins.launch import mongo_standin

MIB = 1024 * 1024
BLOCK = os.urandom(MIB)


async def _body(mib: int) -> AsyncIterator[bytes]:
    for _ in range(mib):
        yield BLOCK


async def _get(settings: Settings, key: str) -> float:
    """Seconds to read the key once, streamed and discarded."""
    started = time.perf_counter()
    async with open_s3(settings) as s3:
        reply = await s3.get_object(Bucket=settings.s3_bucket, Key=key)
        async with reply["Body"] as body:
            async for _ in body.iter_chunks(MIB):
                pass
    return time.perf_counter() - started


async def bench(settings: Settings, mib: int) -> None:
    async with (
        running_process(settings) as server,
        aiohttp.ClientSession(base_url=server.url) as http,
    ):
        await server.wait_ready()
        headers = await tenant_headers(server, "default")
        schema = {"properties": {"data": {"type": "text"}}}
        async with http.post(
            "/v1/buckets", json={"bucket_name": "b", "bucket_schema": schema}, headers=headers
        ) as reply:
            assert reply.status == 200, await reply.text()
        upload_body = {"filename": "big.txt", "content_type": "text/plain", "blob_property": "data"}
        async with http.post("/v1/buckets/b/uploads", json=upload_body, headers=headers) as reply:
            upload = await reply.json()
        async with (
            aiohttp.ClientSession() as raw,
            raw.put(
                upload["presigned_url"],
                data=_body(mib),
                # S3 takes a PUT of a known length only (no chunked body)
                headers={"Content-Type": "text/plain", "Content-Length": str(mib * MIB)},
            ) as put,
        ):
            assert put.status == 200, await put.text()
        get_seconds = await _get(settings, upload["s3_key"])
        started = time.perf_counter()
        async with http.post(
            f"/v1/buckets/b/uploads/{upload['upload_id']}/confirm", json={}, headers=headers
        ) as reply:
            confirmed = await reply.json()
        confirm_seconds = time.perf_counter() - started
        assert confirmed["status"] == "COMPLETED", confirmed
    print(f"{mib} MiB uploaded through a presigned URL")
    print(f"(b) one GET of the file   : {get_seconds:7.2f} s")
    print(
        f"(a) confirm (object made) : {confirm_seconds:7.2f} s   ratio to (b) "
        f"{confirm_seconds / get_seconds:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mib", type=int, default=512, help="size of the file, in MiB")
    s3_choice.add_argument(parser)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        mongodb = os.environ.get("MONGODB_URI") or stack.enter_context(mongo_standin())
        s3 = stack.enter_context(s3_choice.s3_for(args.s3))
        settings = Settings(
            mongodb_uri=mongodb,
            s3_endpoint_url=s3.url,
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            async_confirm_bytes=1 << 40,  # confirm synchronously, to time it
        )
        asyncio.run(bench(settings, args.mib))


if __name__ == "__main__":
    main()
