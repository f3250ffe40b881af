"""bucketd.client against a running server: every call, the error mapping, retries through a
misbehaving connection, and a file upload broken halfway and resumed by the client."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bucketd.client import (
    AsyncClient,
    Client,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
    transfer,
)
from bucketd.client.retries import RetryPolicy
from bucketd.v1 import objects_pb2 as pb
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PNG, SCHEMA, b64, digest
from tests.e2e.proxy import Faults, misbehaving_proxy
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()

MIB = 1024 * 1024


def _client(service: Service, tenant: Tenant, address: str | None = None) -> AsyncClient:
    return AsyncClient(
        address or service.grpc_address, api_key=tenant.api_key, namespace=tenant.namespace
    )


async def test_every_call_with_plain_values(service: Service, acme: Tenant) -> None:
    async with _client(service, acme) as client:
        namespace = await client.create_namespace("media", description="for the client test")
        assert namespace["namespace_name"] == "media"
        assert (await client.get_namespace("media"))["namespace_id"] == namespace["namespace_id"]
        names = {n["namespace_name"] for n in (await client.list_namespaces())["results"]}
        assert names == {"default", "media"}

        bucket = await client.create_bucket("things", SCHEMA, description="d")
        assert (await client.get_bucket("things"))["bucket_id"] == bucket["bucket_id"]
        assert (await client.list_buckets())["total_count"] == 1

        body = {
            "title": "red",
            "blobs": [{"property": "image", "type": "image", "data": {"base64": b64(PNG)}}],
        }
        made = await client.create_object("things", body)
        assert made["title"] == "red" and made["blobs"][0]["details"]["hash"] == digest(PNG)
        fetched = await client.get_object("things", made["object_id"], presigned_urls=True)
        async with (
            aiohttp.ClientSession() as http,
            http.get(fetched["blobs"][0]["presigned_url"]) as reply,
        ):
            assert await reply.read() == PNG
        listed = await client.list_objects("things", limit=10)
        assert [o["object_id"] for o in listed["results"]] == [made["object_id"]]

        upload = await client.create_upload(
            "things", filename="red.png", content_type="image/png", blob_property="image"
        )
        async with (
            aiohttp.ClientSession() as http,
            http.put(
                upload["presigned_url"], data=PNG, headers={"Content-Type": "image/png"}
            ) as reply,
        ):
            etag = reply.headers["ETag"]
        confirmed = await client.confirm_upload("things", upload["upload_id"], etag=etag)
        assert confirmed["status"] == "COMPLETED" and confirmed["object_id"]
        assert (await client.get_upload("things", upload["upload_id"]))["status"] == "COMPLETED"
        assert len((await client.list_uploads("things"))["results"]) == 1

        await client.delete_object("things", made["object_id"])
        with pytest.raises(NotFound):
            await client.get_object("things", made["object_id"])
        deletion = await client.delete_bucket("things")
        task = await client.get_task(deletion["task_id"])
        assert task["task_id"] == deletion["task_id"]
        assert any(t["task_id"] == task["task_id"] for t in (await client.list_tasks())["results"])
        assert (await client.delete_namespace("media"))["task_id"]


async def test_the_sync_client_runs_the_same_calls(service: Service, acme: Tenant) -> None:
    def use() -> list[str]:
        with Client(service.grpc_address, api_key=acme.api_key, namespace="default") as client:
            client.create_bucket("sync", SCHEMA)
            made = client.create_object("sync", {"title": "t"})
            return [o["object_id"] for o in client.list_objects("sync")["results"]] + [
                made["object_id"]
            ]

    listed, made = await asyncio.to_thread(use)
    assert listed == made


async def test_errors_carry_status_message_and_reason(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    async with _client(service, acme) as client:
        with pytest.raises(NotFound) as missing:
            await client.get_bucket("nope")
        assert missing.value.reason == "NOT_FOUND" and "nope" in missing.value.message
        with pytest.raises(InvalidArgument) as refused:
            await client.create_bucket("bad", {"properties": {}})
        assert "at least one field" in refused.value.message
        with pytest.raises(InvalidArgument) as local:  # refused before any call
            await client.create_bucket("x", SCHEMA, colour="red")
        assert "colour" in local.value.message
        await client.create_bucket("two", SCHEMA)
        with pytest.raises(InvalidArgument) as which:
            await client.upload_file("two", tmp_path / "f.png")
        assert "3 file properties" in which.value.message
    async with AsyncClient(service.grpc_address, api_key="sk_test_" + "x" * 32) as stranger:
        with pytest.raises(Unauthenticated):
            await stranger.list_buckets()


async def test_a_create_retried_through_refused_connections_makes_one_object(
    service: Service, acme: Tenant
) -> None:
    async with _client(service, acme) as client:
        await client.create_bucket("things", SCHEMA)
        key = "order-42"
        first = await client.create_object("things", {"title": "a"}, idempotency_key=key)
        again = await client.create_object("things", {"title": "a"}, idempotency_key=key)
        assert again["object_id"] == first["object_id"]
    faults = Faults(refuse_connections=2)
    async with misbehaving_proxy(service.grpc_address, faults) as address:
        flaky = AsyncClient(
            address,
            api_key=acme.api_key,
            namespace="default",
            retry=RetryPolicy(attempts=8, first_delay=0.2, max_delay=2),
        )
        async with flaky:
            made = await flaky.create_object("things", {"title": "b"})
    assert faults.connections >= 3  # two refused, then through
    async with _client(service, acme) as client:
        titles = [o["title"] for o in (await client.list_objects("things"))["results"]]
    assert sorted(titles) == ["a", "b"] and made["title"] == "b"


async def test_creates_without_a_key_are_not_retried(service: Service, acme: Tenant) -> None:
    """A create that may have happened (its answer lost) must not be sent twice: without an
    idempotency key, UNAVAILABLE reaches the caller; a read is retried."""
    faults = Faults(refuse_connections=1)
    async with misbehaving_proxy(service.grpc_address, faults) as address:
        client = AsyncClient(
            address, api_key=acme.api_key, retry=RetryPolicy(attempts=6, first_delay=0.2)
        )
        async with client:
            with pytest.raises(Unavailable):
                await client.create_bucket("once", SCHEMA)
            faults.refuse_connections = 1
            assert (await client.list_buckets())["total_count"] == 0  # retried, then through


async def test_unavailable_after_the_retries(service: Service, acme: Tenant) -> None:
    faults = Faults(refuse_connections=1000)
    async with misbehaving_proxy(service.grpc_address, faults) as address:
        client = AsyncClient(
            address, api_key=acme.api_key, retry=RetryPolicy(attempts=3, first_delay=0.05)
        )
        async with client:
            with pytest.raises(Unavailable):
                await client.list_buckets()


async def test_an_upload_broken_halfway_is_resumed_by_the_client(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    data = os.urandom(40 * MIB)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    seen: list[int] = []
    faults = Faults(cut_after_bytes=20 * MIB)
    async with _client(service, acme) as client:
        await client.create_bucket("things", SCHEMA)
    async with (
        misbehaving_proxy(service.grpc_address, faults) as address,
        _client(service, acme, address) as client,
    ):
        obj = await client.upload_file(
            "things",
            path,
            property="notes",
            mime_type="text/plain",
            progress=lambda done, _total: seen.append(done),
        )
    assert faults.cuts == 1
    assert obj["blobs"][0]["details"]["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert obj["blobs"][0]["details"]["size_bytes"] == len(data)
    # the resumed attempt reports its offset first: at or below where the cut one had reached
    restarts = [later for earlier, later in itertools.pairwise(seen) if later <= earlier]
    assert restarts and 8 * MIB < restarts[0] <= 20 * MIB  # from every byte that arrived
    assert seen[-1] == len(data)


async def test_a_finished_upload_is_not_sent_again(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    """A put killed after bucketd finished the object, but before it forgot the session: run
    again, it answers that object instead of uploading a second one."""
    path = tmp_path / "notes.txt"
    path.write_bytes(os.urandom(2 * MIB))
    remembered = tmp_path / "state"
    async with _client(service, acme) as client:
        await client.create_bucket("things", SCHEMA)
        first = await client.upload_file("things", path, property="notes", resume_dir=remembered)
        spec = transfer.FileUpload(bucket="things", property="notes", path=path)
        stubs, metadata = client.stubs.objects, client.metadata()
        started = await stubs.StartUploadSession(  # the session the state file will name
            pb.StartUploadSessionRequest(header=spec.header(path.stat().st_size)),
            metadata=metadata,
        )
        data = path.read_bytes()
        header = pb.UploadObjectHeader(session_id=started.session_id)
        messages = [pb.UploadObjectRequest(header=header)]
        messages += [
            pb.UploadObjectRequest(chunk=pb.BlobChunk(write_offset=at, data=data[at : at + MIB]))
            for at in range(0, len(data), MIB)
        ]
        made = (await stubs.UploadObject(iter(messages), metadata=metadata)).object
        state = remembered / spec.state_name(client)
        state.write_text(json.dumps({"session_id": started.session_id}))
        again = await client.upload_file("things", path, property="notes", resume_dir=remembered)
        listed = await client.list_objects("things")
    assert again["object_id"] == made.object_id != first["object_id"]
    assert len(listed["results"]) == 2  # the first upload and the finished session: no third
    assert not state.exists()


async def test_upload_stream_from_an_async_iterable(service: Service, acme: Tenant) -> None:
    blocks = [os.urandom(MIB) for _ in range(3)]

    async def produce() -> Any:
        for block in blocks:
            yield block

    async with _client(service, acme) as client:
        await client.create_bucket("things", SCHEMA)
        obj = await client.upload_stream(
            "things", produce(), property="notes", filename="s.txt", mime_type="text/plain"
        )
    assert obj["blobs"][0]["details"]["hash"] == digest(b"".join(blocks))
