"""Writers that die, freeze or are abandoned mid-write; instances that share one MongoDB and S3.

Each test provokes the fault for real (SIGKILL, SIGSTOP, a dropped connection, a source that
trickles) against `bucketd serve` processes or in-process servers on the test's stand-ins, and
then checks what is left in MongoDB and S3.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from grpc import aio
from pymongo import AsyncMongoClient

from bucketd.process import running_process
from bucketd.server.services.buckets import NewBucket
from bucketd.server.settings import Settings
from bucketd.v1 import common_pb2, objects_pb2_grpc
from bucketd.v1 import objects_pb2 as pb
from tests.e2e.harness import Service, Tenant, make_tenant, until, wait_until_serving
from tests.e2e.objects_support import (
    PNG,
    b64,
    call,
    create,
    digest,
    make_bucket,
    multipart_uploads,
    s3_bytes,
    serving,
)
from tests.faults.processes import bucketd, environment, issue_key, rest

MIB = 1024 * 1024
SCHEMA = {"properties": {"data": {"type": "text"}, "image": {"type": "image"}}}


async def _objects(settings: Settings) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        return await client[settings.mongodb_database]["objects"].find({}).to_list()
    finally:
        await client.close()


def _setup(url: str, key: str) -> None:
    rest(url, "POST", "/v1/namespaces", key, {"namespace_name": "default"})
    rest(url, "POST", "/v1/buckets", key, {"bucket_name": "b", "bucket_schema": SCHEMA})


@pytest.mark.timeout(240)
async def test_kill_9_mid_http_upload_is_reclaimed_after_a_restart(settings: Settings) -> None:
    env = environment(settings, BUCKETD_WRITE_LEASE_SECONDS="2", BUCKETD_SWEEP_SECONDS="0.3")
    key = issue_key(env, "acme")
    sent = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        block = os.urandom(MIB)
        for index in range(200):
            if index == 24:
                sent.set()
            yield block

    with bucketd(env) as first:
        await asyncio.to_thread(_setup, first.rest, key)
        async with aiohttp.ClientSession() as http:
            upload = asyncio.create_task(
                http.post(
                    f"{first.rest}/v1/buckets/b/objects/upload?property=data&filename=big.txt",
                    data=body(),
                    headers={"Authorization": f"Bearer {key}", "X-Namespace": "default"},
                )
            )
            await sent.wait()
            await until(lambda: _has(multipart_uploads(settings)))
            first.signal(signal.SIGKILL)
            with contextlib.suppress(aiohttp.ClientError):
                (await upload).release()
    (dead,) = await _objects(settings)
    assert dead["status"] == "PROCESSING" and await multipart_uploads(settings)
    with bucketd(env):  # the restart's janitor finds what the dead one left

        async def cleaned() -> bool:
            objects = await _objects(settings)
            return not await multipart_uploads(settings) and all(
                o["status"] != "PROCESSING" for o in objects
            )

        await until(cleaned)
    (failed,) = await _objects(settings)
    assert failed["status"] == "FAILED" and "lease ran out" in failed["error"]
    assert "write" not in failed


async def _post(http: aiohttp.ClientSession, url: str, key: str, body: object) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
    async with http.post(url, json=body, headers=headers) as reply:
        return reply.status, await reply.json()


async def _has(listing: Awaitable[list[str]]) -> bool:
    return bool(await listing)


@contextlib.asynccontextmanager
async def _trickling_source() -> AsyncIterator[str]:
    """An HTTP server whose body comes one byte every 100 ms, for as long as anyone reads."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for _ in range(3000):
            await response.write(b"x")
            await asyncio.sleep(0.1)
        return response

    app = web.Application()
    app.router.add_get("/slow.txt", trickle)
    async with serving(app) as base:
        yield f"{base}/slow.txt"


@pytest.mark.timeout(180)
async def test_a_frozen_writer_of_a_trickling_source_is_failed_by_another_instance(
    settings: Settings,
) -> None:
    env = environment(
        settings,
        BUCKETD_WRITE_LEASE_SECONDS="2",
        BUCKETD_SWEEP_SECONDS="0.3",
        BUCKETD_FETCH_ALLOWLIST="127.0.0.1/32",
    )
    key = issue_key(env, "acme")
    async with _trickling_source() as source:
        with bucketd(env) as first, bucketd(env):
            await asyncio.to_thread(_setup, first.rest, key)
            blob = {"property": "data", "type": "text", "data": source}
            async with aiohttp.ClientSession() as http:
                pending = asyncio.create_task(
                    _post(http, f"{first.rest}/v1/buckets/b/objects", key, {"blobs": [blob]})
                )

                async def processing() -> bool:
                    return [o["status"] for o in await _objects(settings)] == ["PROCESSING"]

                await until(processing)
                first.signal(signal.SIGSTOP)  # alive but frozen: its lease is not renewed
                try:

                    async def failed() -> bool:
                        return [o["status"] for o in await _objects(settings)] == ["FAILED"]

                    await until(failed)
                finally:
                    first.signal(signal.SIGCONT)
                # Thawed, the writer finds its lease gone and stops, saying why.
                status, reply = await asyncio.wait_for(pending, 30)
    assert status == 503 and "lease ran out" in reply["error"]["message"]
    assert not await multipart_uploads(settings)
    (record,) = await _objects(settings)
    assert record["status"] == "FAILED" and "lease ran out" in record["error"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's sources are served on loopback: let the in-process fetcher reach them."""
    return dataclasses.replace(settings, fetch_allowlist=("127.0.0.1/32",))


async def test_an_abandoned_create_of_a_trickling_source_ends_failed(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    async with _trickling_source() as source:
        request = pb.CreateObjectRequest(bucket_identifier="things")
        blob = request.blobs.add(property="notes", type=common_pb2.FIELD_TYPE_TEXT)
        blob.data.string_value = source
        pending = stub.CreateObject(request, metadata=acme.metadata())

        async def processing() -> bool:
            return [o["status"] for o in await _objects(settings)] == ["PROCESSING"]

        await until(processing)
        pending.cancel()  # the client goes away while the source is still trickling
        with contextlib.suppress(asyncio.CancelledError, aio.AioRpcError):
            await pending

        async def failed() -> bool:  # and cleaned up: the clean-up goes on after the answer
            found = await _objects(settings)
            return [(o["status"], "write" in o) for o in found] == [("FAILED", False)]

        await until(failed)
    (record,) = await _objects(settings)
    assert "cancelled" in record["error"]
    assert not await multipart_uploads(settings)


async def test_the_janitor_of_one_instance_never_reclaims_a_live_write_of_another(
    settings: Settings,
) -> None:
    short = dataclasses.replace(settings, write_lease_seconds=1.0)
    async with (
        running_process(short) as first,
        running_process(short) as second,
        aio.insecure_channel(first.address) as channel,
    ):
        await wait_until_serving(channel)
        await second.wait_ready()
        acme = await make_tenant(first.services, "acme")
        principal = await first.services.api_keys.authenticate(f"Bearer {acme.api_key}")
        namespace = await first.services.namespaces.resolve(principal, "default")
        await first.services.buckets.create(namespace, NewBucket("b", None, SCHEMA, None, {}))
        data = os.urandom(3 * MIB)
        reclaimed: list[int] = []

        async def requests() -> AsyncIterator[pb.UploadObjectRequest]:
            header = pb.UploadObjectHeader(
                bucket_identifier="b",
                blobs=[pb.UploadBlobHeader(property="data", mime_type="text/plain")],
            )
            yield pb.UploadObjectRequest(header=header)
            for index in range(12):  # 3.6 s: more than three leases of 1 s
                chunk = data[index * MIB // 4 : (index + 1) * MIB // 4]
                offset = index * MIB // 4
                yield pb.UploadObjectRequest(
                    chunk=pb.BlobChunk(blob_index=0, write_offset=offset, data=chunk)
                )
                await asyncio.sleep(0.3)
                reclaimed.append((await second.services.janitor.reclaim_writes())[0])

        stub = objects_pb2_grpc.ObjectServiceStub(channel)
        reply = await stub.UploadObject(requests(), metadata=acme.metadata())
    assert reclaimed and sum(reclaimed) == 0
    assert reply.object.status == common_pb2.TASK_STATUS_PENDING
    assert reply.object.blobs[0].details.size_bytes == 3 * MIB


async def test_bytes_reused_while_their_last_holder_is_deleted_are_kept(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    """Delete the only holder of some bytes while creating another object of the same bytes,
    with the janitor sweeping at the same time (grace 0 in tests): the new object keeps them."""
    await make_bucket(service, acme)
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    for _ in range(8):
        _, first = await create(service, acme, {"blobs": [blob]})
        path = f"/v1/buckets/things/objects/{first['object_id']}"
        _, (status, second), _ = await asyncio.gather(
            call(service, "DELETE", path, acme),
            create(service, acme, {"blobs": [blob]}),
            service.services.janitor.sweep(),
        )
        assert status == 200, second
        await service.services.janitor.sweep()
        assert await s3_bytes(settings, second["blobs"][0]["properties"]["url"]) == PNG
        assert second["blobs"][0]["details"]["hash"] == digest(PNG)
        await call(service, "DELETE", f"/v1/buckets/things/objects/{second['object_id']}", acme)
