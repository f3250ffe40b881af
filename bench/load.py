"""Benchmark: many uploads at once against one `bucketd serve`, with and without admission.

Sends `--uploads` concurrent streamed uploads of `--mib` MiB each (over HTTP, then over gRPC)
and prints, per configuration, the peak RSS of the bucketd process (sampled from /proc), how
many uploads were admitted (200) and refused at once (503 / RESOURCE_EXHAUSTED), and how long
the refusals took. The configurations: no effective cap (`BUCKETD_MAX_UPLOADS=10000`, as before
admission existed) and a 1 GiB memory budget (the Kubernetes recipe's limit). One organization
sends everything, so its fair share is lifted (`BUCKETD_MAX_UPLOADS_ORG_FRACTION=1`).

    .venv/bin/python -m bench.load [--uploads 50] [--mib 20] [--s3 rgw|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import grpc
from grpc import aio

from bench import s3 as s3_choice
from bench.s3 import S3, s3_for
from bench.upload import blocks, peak_rss_growth, rss_bytes, setup, start_bucketd, via_grpc
from bucketd.server.domain import keys

MIB = 1024 * 1024
CONFIGURATIONS = {
    "no cap (10000)": {"BUCKETD_MAX_UPLOADS": "10000"},
    "1 GiB budget": {"BUCKETD_MEMORY_BUDGET_BYTES": str(1024 * MIB)},
}


async def _http(url: str, headers: dict[str, str], mib: int, salt: bytes) -> tuple[int, float]:
    async def body() -> AsyncIterator[bytes]:
        for block in blocks(mib, salt):
            yield block

    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1/buckets/b/objects/upload?property=data&filename=big.bin",
            data=body(),
            headers={**headers, "Content-Type": "text/plain"},
        ) as reply,
    ):
        await reply.read()
        return reply.status, time.perf_counter() - started


async def _grpc(
    target: str, metadata: tuple[tuple[str, str], ...], mib: int, salt: bytes
) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        await via_grpc(target, metadata, mib, salt, None, chunk_mib=1)
    except aio.AioRpcError as error:
        code = 503 if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED else 500
        return code, time.perf_counter() - started
    return 200, time.perf_counter() - started


async def _one(s3: S3, name: str, env: dict[str, str], uploads: int, mib: int) -> None:
    saved = dict(os.environ)
    os.environ.update({**env, "BUCKETD_MAX_UPLOADS_ORG_FRACTION": "1"})
    key = keys.generate_key(test=True)
    try:
        process, target, url = start_bucketd(s3, key)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
    metadata = tuple((k.lower(), v) for k, v in headers.items())
    try:
        await setup(url, headers)
        for path in ("http", "grpc"):
            baseline = rss_bytes(process.pid)
            with peak_rss_growth(process.pid) as sampled:
                runs = [
                    _http(url, headers, mib, f"{path} {n}".encode())
                    if path == "http"
                    else _grpc(target, metadata, mib, f"{path} {n}".encode())
                    for n in range(uploads)
                ]
                answers = await asyncio.gather(*runs)
            statuses = Counter(status for status, _ in answers)
            refused = [seconds for status, seconds in answers if status == 503]
            slowest = f"{max(refused):.2f} s" if refused else "-"
            print(
                f"{name:<16} {path:<5} peak RSS {(baseline + sampled[0]) / MIB:7.0f} MiB  "
                f"admitted {statuses[200]:3}  refused {statuses[503]:3} (slowest {slowest})  "
                f"other {sum(v for k, v in statuses.items() if k not in (200, 503))}"
            )
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--uploads", type=int, default=50, help="uploads at once")
    parser.add_argument("--mib", type=int, default=20, help="size of each upload, in MiB")
    s3_choice.add_argument(parser)
    args = parser.parse_args()
    print(f"{args.uploads} concurrent uploads of {args.mib} MiB, one organization")
    with s3_for(args.s3) as s3:
        for name, env in CONFIGURATIONS.items():
            asyncio.run(_one(s3, name, env, args.uploads, args.mib))


if __name__ == "__main__":
    main()
