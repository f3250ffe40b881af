"""Reads spend their key's rate limit (BUCKETD_RATE_LIMIT_PER_SECOND) like every other call:
ReadObject and the HTTP content route, one token per read, taken before the first message; past
the burst a read is refused at once (RESOURCE_EXHAUSTED with RetryInfo, 429 + Retry-After) and
a read already streaming runs to its end."""

from __future__ import annotations

import dataclasses
import os

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc import aio
from grpc_status import rpc_status

from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket
from tests.e2e.read_support import MIB, upload

BURST = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A rate slow enough that no token comes back while the test runs.
    return dataclasses.replace(settings, rate_limit_per_second=0.05, rate_limit_burst=BURST)


async def _reader(service: Service, writer: Tenant) -> Tenant:
    """A second key of the writer's organization: its tokens are its own."""
    issued = await service.services.api_keys.issue(writer.organization, test=True)
    return dataclasses.replace(writer, api_key=issued.plaintext)


def _request(object_id: str) -> pb.ReadObjectRequest:
    return pb.ReadObjectRequest(bucket_identifier="things", object_identifier=object_id, blob="0")


async def test_reads_past_the_burst_are_refused_and_a_streaming_one_finishes(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)  # the writer's two tokens: the bucket, the upload
    data = os.urandom(5 * MIB)
    object_id = await upload(service, acme, data)
    reader = await _reader(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    streaming = aiter(stub.ReadObject(_request(object_id), metadata=reader.metadata()))  # 1
    first = await anext(streaming)
    assert first.metadata.read_length == len(data)
    path = f"/v1/buckets/things/objects/{object_id}/blobs/0/content"
    async with service.http.get(path, headers=reader.headers()) as reply:  # token 2
        assert reply.status == 200 and await reply.read() == data
    with pytest.raises(aio.AioRpcError) as refused:
        await anext(aiter(stub.ReadObject(_request(object_id), metadata=reader.metadata())))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "BUCKETD_RATE_LIMIT_PER_SECOND" in (refused.value.details() or "")
    status = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
    assert status is not None
    retry = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert retry, status.details
    for method in ("GET", "HEAD"):
        async with service.http.request(method, path, headers=reader.headers()) as reply:
            assert reply.status == 429, await reply.text()
            assert int(reply.headers["Retry-After"]) >= 1
            if method == "GET":
                assert (await reply.json())["error"]["type"] == "TooManyRequestsError"
    rest = [message.checksummed_data.content async for message in streaming]
    assert b"".join(rest) == data  # the read admitted before the limit runs to its end
    async with service.http.get(path, headers=acme.headers()) as other:
        assert other.status == 429  # the writer's key spent its burst on the bucket and upload
