"""Admission instead of exhaustion (issue #39): past the cap of uploads in flight a new upload
is refused at once (503 + Retry-After, RESOURCE_EXHAUSTED with RetryInfo) while the admitted
ones finish whole; one organization cannot take every slot."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc import aio
from grpc_status import rpc_status

from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import make_bucket
from tests.faults.processes import bucketd, environment, issue_key, rest

PATH = "/v1/buckets/things/objects/upload?property=notes&filename=n.txt"
HEADERS = {"Content-Type": "text/plain"}
REFUSED_WITHIN = 2.0  # "at once": no queue, no waiting for a slot
MIB = 1024 * 1024
BUDGET = 384 * MIB  # holds (384 - 256) MiB / 36 MiB = 3 uploads (services/admission.py)
UPLOADS = 8


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_uploads=2, max_uploads_org_fraction=0.5)


class HeldUpload:
    """An HTTP upload that sends its first bytes, then waits to be let go."""

    def __init__(self, service: Service, tenant: Tenant, first: bytes, rest: bytes) -> None:
        self.go = asyncio.Event()
        self.sha256 = hashlib.sha256(first + rest).hexdigest()

        async def body() -> AsyncIterator[bytes]:
            yield first
            await self.go.wait()
            yield rest

        self.task = asyncio.create_task(self._send(service, tenant, body()))

    @staticmethod
    async def _send(service: Service, tenant: Tenant, body: AsyncIterator[bytes]) -> str:
        headers = {**tenant.headers(), **HEADERS}
        async with service.http.post(PATH, data=body, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
            answer = await reply.json()
        return str(answer["blobs"][0]["details"]["hash"])

    async def finished(self) -> str:
        self.go.set()
        return await self.task


async def _held(service: Service, count: int) -> None:
    await until(lambda: _holding(service, count), within=10)


async def _holding(service: Service, count: int) -> bool:
    return service.services.upload_slots.held.uploads == count


async def _post(service: Service, tenant: Tenant, data: bytes) -> tuple[int, dict[str, str], str]:
    headers = {**tenant.headers(), **HEADERS}
    async with service.http.post(PATH, data=data, headers=headers) as reply:
        return reply.status, dict(reply.headers), await reply.text()


def _grpc_upload(service: Service, tenant: Tenant, data: bytes) -> aio.StreamUnaryCall:  # type: ignore[type-arg]
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    blob = pb.UploadBlobHeader(property="notes", mime_type="text/plain", filename="g.txt")
    messages = [
        pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(bucket_identifier="things", blobs=[blob])
        ),
        pb.UploadObjectRequest(chunk=pb.BlobChunk(blob_index=0, write_offset=0, data=data)),
    ]
    return stub.UploadObject(iter(messages), metadata=tenant.metadata())


async def test_uploads_past_the_cap_are_refused_at_once_and_the_admitted_finish(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, globex)
    held = [
        HeldUpload(service, tenant, b"first " * 1000, f"rest of {n}".encode() * 5000)
        for n, tenant in enumerate((acme, globex))
    ]
    await _held(service, 2)

    started = time.monotonic()
    status, headers, text = await _post(service, globex, b"one too many")
    assert status == 503, text
    assert int(headers["Retry-After"]) >= 1
    assert "BUCKETD_MAX_UPLOADS" in text
    with pytest.raises(aio.AioRpcError) as refused:
        await _grpc_upload(service, acme, b"one too many over gRPC")
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status_proto = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
    assert status_proto is not None
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status_proto.details)
    assert retry.retry_delay.seconds >= 1
    assert time.monotonic() - started < 2 * REFUSED_WITHIN

    hashes = [await upload.finished() for upload in held]
    assert hashes == [f"sha256:{upload.sha256}" for upload in held]
    await _held(service, 0)
    status, _, text = await _post(service, acme, b"room again")
    assert status == 200, text


async def test_one_organization_flooding_does_not_starve_another(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, globex)
    flood = HeldUpload(service, acme, b"acme " * 1000, b"more")
    await _held(service, 1)

    refused = await asyncio.gather(*(_post(service, acme, b"flood") for _ in range(5)))
    assert [status for status, _, _ in refused] == [503] * 5, refused
    assert all("organization" in text for _, _, text in refused)
    status, _, text = await _post(service, globex, b"globex gets its share")
    assert status == 200, text
    reply = await _grpc_upload(service, globex, b"and over gRPC too")
    assert reply.object.object_id
    assert (await flood.finished()).startswith("sha256:")


def _rss_bytes(pid: int) -> int:
    """The process's resident set now (VmRSS of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def _sampled_peak(pid: int, done: asyncio.Event) -> int:
    peak = 0
    while not done.is_set():
        peak = max(peak, _rss_bytes(pid))
        await asyncio.sleep(0.02)  # a sampling period, not a wait for anything
    return max(peak, _rss_bytes(pid))


async def _upload_to(url: str, key: str, data: bytes) -> tuple[int, str, dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default", **HEADERS}
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{url}{PATH}", data=data, headers=headers) as reply,
    ):
        return reply.status, await reply.text(), dict(reply.headers)


async def test_rss_stays_under_the_memory_budget_with_more_uploads_than_the_cap(
    settings: Settings,
) -> None:
    """`bucketd serve` with a small memory budget (its cap derived from it) and more 20 MiB
    uploads at once than the cap: the excess is refused, the rest finish whole, and the
    process's peak RSS, sampled throughout, stays under the budget."""
    env = environment(settings, BUCKETD_MEMORY_BUDGET_BYTES=str(BUDGET), BUCKETD_MAX_UPLOADS="0")
    key = issue_key(env, "acme")
    with bucketd(env) as served:
        rest(served.rest, "POST", "/v1/namespaces", key, {"namespace_name": "default"})
        body = {
            "bucket_name": "things",
            "bucket_schema": {"properties": {"notes": {"type": "text"}}},
        }
        rest(served.rest, "POST", "/v1/buckets", key, body)
        uploads = [os.urandom(20 * MIB) for _ in range(UPLOADS)]
        done = asyncio.Event()
        sampling = asyncio.create_task(_sampled_peak(served.process.pid, done))
        answers = await asyncio.gather(*(_upload_to(served.rest, key, d) for d in uploads))
        done.set()
        peak = await sampling
    admitted = [(a, d) for a, d in zip(answers, uploads, strict=True) if a[0] == 200]
    refused = [a for a in answers if a[0] != 200]
    assert admitted and refused, [a[:2] for a in answers]
    for (_, text, _), data in admitted:
        assert json.loads(text)["blobs"][0]["details"]["hash"].endswith(
            hashlib.sha256(data).hexdigest()
        )
    assert all(a[0] == 503 and "Retry-After" in a[2] for a in refused), refused
    assert peak < BUDGET, f"peak RSS {peak / MIB:.0f} MiB, budget {BUDGET / MIB:.0f} MiB"
