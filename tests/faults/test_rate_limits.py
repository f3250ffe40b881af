"""The per-key rate limit (BUCKETD_RATE_LIMIT_PER_SECOND): past its burst a key gets 429 +
Retry-After (gRPC RESOURCE_EXHAUSTED), and another key is not affected."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from grpc import aio

from bucketd.server.settings import Settings
from bucketd.v1 import buckets_pb2, buckets_pb2_grpc
from tests.e2e.harness import Service, Tenant

BURST = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A rate slow enough that no token comes back while the test runs.
    return dataclasses.replace(settings, rate_limit_per_second=0.05, rate_limit_burst=BURST)


async def test_a_key_past_its_rate_limit_gets_429_and_another_key_does_not(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    statuses = []
    for _ in range(BURST + 1):
        async with service.http.get("/v1/buckets", headers=acme.headers()) as reply:
            statuses.append(reply.status)
            body = await reply.json()
            retry_after = reply.headers.get("Retry-After")
    assert statuses == [200] * BURST + [429], statuses
    assert body["error"]["type"] == "TooManyRequestsError"
    assert retry_after is not None and int(retry_after) >= 1
    stub = buckets_pb2_grpc.BucketServiceStub(service.channel)
    with pytest.raises(aio.AioRpcError) as limited:
        await stub.ListBuckets(buckets_pb2.ListBucketsRequest(), metadata=acme.metadata())
    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    async with service.http.get("/v1/buckets", headers=globex.headers()) as other:
        assert other.status == 200, await other.text()
