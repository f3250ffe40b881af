"""Many uploads at once (part 2): `--uploads` concurrent streamed uploads of `--mib` MiB each,
over HTTP, then over gRPC, under each configuration: no effective cap (`BUCKETD_MAX_UPLOADS=
10000`, as before admission existed), the default 2 GiB budget, and a 1 GiB budget (the
Kubernetes recipe's limit). One organization sends everything, so its fair share is lifted
(`BUCKETD_MAX_UPLOADS_ORG_FRACTION=1`). Prints the peak RSS of bucketd (from /proc), what was
admitted and refused, whether every admitted upload's SHA-256 is right, and the MB/s moved.

A refused gRPC upload may reach the client as INTERNAL "Internal error from Core" rather than
the RESOURCE_EXHAUSTED bucketd sent: grpcio's asyncio client (1.85 and before,
grpc/grpc#36066, fix proposed in #43486) replaces the server's status with that one when a
request message it is still writing fails because the server already answered. This part
counts those apart (`INTERNAL (#36066)`) and prints what the server itself answered, from its
/metrics, so that the two can be compared.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from grpc import aio

from bench.load.common import MIB, Instance, running
from bench.s3 import S3
from bench.upload import blocks, digest_of, peak_rss_growth
from bench.upload import setup as make_bucket
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

CONFIGURATIONS = {
    "no cap (10000)": {"BUCKETD_MAX_UPLOADS": "10000"},
    "default (2 GiB)": {},
    "1 GiB budget": {"BUCKETD_MEMORY_BUDGET_BYTES": str(1024 * MIB)},
}
GRPC_BUG = "INTERNAL (#36066)"
# An answer: its status, the SHA-256 bucketd stored (when it answered one), and the seconds.
Answer = tuple[str, str, float]


async def _http(instance: Instance, mib: int, salt: bytes) -> Answer:
    async def body() -> AsyncIterator[bytes]:
        for block in blocks(mib, salt):
            yield block

    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{instance.url}/v1/buckets/b/objects/upload?property=data&filename=big.bin",
            data=body(),
            headers={**instance.tenants["uploads"].headers, "Content-Type": "text/plain"},
        ) as reply,
    ):
        stored = (await reply.json())["blobs"][0]["details"]["hash"] if reply.status == 200 else ""
        return str(reply.status), stored, time.perf_counter() - started


async def _grpc(instance: Instance, mib: int, salt: bytes) -> Answer:
    async def requests() -> AsyncIterator[pb.UploadObjectRequest]:
        blob = pb.UploadBlobHeader(property="data", mime_type="text/plain", filename="big.bin")
        yield pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(bucket_identifier="b", blobs=[blob])
        )
        for index, block in enumerate(blocks(mib, salt)):
            chunk = pb.BlobChunk(blob_index=0, write_offset=index * MIB, data=block)
            yield pb.UploadObjectRequest(chunk=chunk)

    started = time.perf_counter()
    async with aio.insecure_channel(instance.target) as channel:
        try:
            reply = await objects_pb2_grpc.ObjectServiceStub(channel).UploadObject(
                requests(), metadata=instance.tenants["uploads"].metadata
            )
        except aio.AioRpcError as error:
            status = error.code().name
            if "SendMessageOperation" in (error.debug_error_string() or ""):
                status = GRPC_BUG  # a write failed after the answer: grpcio lost the status
            return status, "", time.perf_counter() - started
    return "OK", reply.object.blobs[0].details.hash, time.perf_counter() - started


async def _answered(instance: Instance) -> Counter[str]:
    """UploadObject's answers so far, by status code, from bucketd's own /metrics."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{instance.url}/metrics") as reply,
    ):
        text = await reply.text()
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("bucketd_rpc_requests_total") and "UploadObject" in line:
            code = re.search(r'code="([A-Z_]+)"', line)
            if code:
                found[code.group(1)] += int(float(line.rsplit(" ", 1)[1]))
    return found


@dataclass
class Row:
    configuration: str
    path: str
    baseline: int  # bucketd's RSS when it started (before its first run), bytes
    peak: int  # its peak RSS during the run, bytes
    answers: list[Answer]
    digests: list[str]
    seconds: float
    server: Counter[str]  # what bucketd answered (gRPC only)


async def _path(
    instance: Instance, path: str, *, uploads: int, mib: int, name: str, baseline: int
) -> Row:
    salts = [f"{name} {path} {n}".encode() for n in range(uploads)]
    digests = await asyncio.to_thread(lambda: [f"sha256:{digest_of(mib, s)}" for s in salts])
    before = await _answered(instance)
    now = instance.rss()
    with peak_rss_growth(instance.process.pid) as sampled:
        started = time.perf_counter()
        send = _http if path == "HTTP" else _grpc
        answers = await asyncio.gather(*(send(instance, mib, salt) for salt in salts))
        seconds = time.perf_counter() - started
    after = await _answered(instance)
    server = after - before if path == "gRPC" else Counter[str]()
    return Row(name, path, baseline, now + sampled[0], answers, digests, seconds, server)


async def _configuration(
    s3: S3, name: str, env: dict[str, str], uploads: int, mib: int
) -> list[Row]:
    settings = {**env, "BUCKETD_MAX_UPLOADS_ORG_FRACTION": "1"}
    with running(s3, organizations=("uploads",), settings=settings) as instance:
        await make_bucket(instance.url, instance.tenants["uploads"].headers)
        fresh = instance.rss()
        return [
            await _path(instance, path, uploads=uploads, mib=mib, name=name, baseline=fresh)
            for path in ("HTTP", "gRPC")
        ]


def uploads(s3: S3, *, count: int, mib: int) -> list[Row]:
    rows = []
    for name, env in CONFIGURATIONS.items():
        rows += asyncio.run(_configuration(s3, name, env, count, mib))
    return rows


def report(rows: list[Row], *, count: int, mib: int) -> None:
    from bench.load.common import table  # noqa: PLC0415

    print(
        f"\n2. {count} concurrent uploads of {mib} MiB, one organization (fair share lifted); "
        "MB/s: the admitted bytes over the wall time of the whole batch"
    )
    cells = []
    for row in rows:
        statuses = Counter(status for status, _, _ in row.answers)
        admitted = [
            (a, d) for a, d in zip(row.answers, row.digests, strict=True) if a[0] in ("200", "OK")
        ]
        right = sum(1 for (_, stored, _), digest in admitted if stored == digest)
        refused = [
            s for status, _, s in row.answers if status in ("503", "RESOURCE_EXHAUSTED", GRPC_BUG)
        ]
        others = {k: v for k, v in statuses.items() if k not in ("200", "OK")}
        held = (row.peak - row.baseline) / MIB / max(1, len(admitted))
        cells.append([
            f"{row.configuration} {row.path}", f"{row.baseline / MIB:.0f}", f"{row.peak / MIB:.0f}",
            f"{held:.1f}", f"{len(admitted)}", f"{right}/{len(admitted)}",
            " ".join(f"{k}x{v}" for k, v in sorted(others.items())) or "-",
            f"{max(refused):.2f}" if refused else "-",
            " ".join(f"{k}x{v}" for k, v in sorted(row.server.items())) or "-",
            f"{len(admitted) * mib * MIB / 1e6 / row.seconds:.0f}",
        ])  # fmt: skip
    table(
        ["configuration", "RSS MiB at start", "peak MiB", "MiB/upload", "admitted", "hashes right",
         "refused (statusxn)", "slowest refusal s", "bucketd answered", "MB/s"],
        cells,
    )  # fmt: skip
    if any(GRPC_BUG in (a[0] for a in row.answers) for row in rows):
        print(
            f"   {GRPC_BUG}: refusals bucketd answered RESOURCE_EXHAUSTED (see 'bucketd answered') "
            "that grpcio's asyncio client reports as INTERNAL 'Internal error from Core': the "
            "answer arrives while the client is still writing chunks, the failed write replaces "
            "the status (grpc/grpc#36066; fix proposed in grpc/grpc#43486)"
        )
