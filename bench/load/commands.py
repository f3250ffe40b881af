"""MongoDB commands per small create (part 4), counted as `bench.create` counts them (its
listener, its one create of new bytes and of registered bytes), with bucketd in this process
(a listener sees only its own process's clients) against the same S3 and a MongoDB stand-in of
its own; and the same for one REST create of new bytes (the gateway's key check included)."""

from __future__ import annotations

import base64
import os

import aiohttp
from grpc import aio
from pymongo import monitoring

from bench.create import MONGO, _count_one_create, _count_s3_requests, tenant_headers
from bench.create import S3 as S3_REQUESTS
from bench.load.common import table
from bench.s3 import S3
from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.standins.launch import mongo_standin
from bucketd.v1 import common_pb2, objects_pb2, objects_pb2_grpc

TARGET = 5


async def commands(s3: S3) -> dict[str, tuple[int, int]]:
    """(MongoDB commands, S3 requests) of one create, by kind."""
    monitoring.register(MONGO)
    _count_s3_requests()
    with mongo_standin() as mongo:
        settings = Settings(
            mongodb_uri=mongo, mongodb_database="bucketd_load_commands", s3_endpoint_url=s3.url,
            s3_bucket="bucketd-load-commands", aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
        )  # fmt: skip
        async with (
            running_process(settings) as server,
            aio.insecure_channel(server.address) as channel,
        ):
            await server.wait_ready()
            headers = await tenant_headers(server, "load")
            metadata = tuple((k.lower(), v) for k, v in headers.items())
            async with aiohttp.ClientSession(base_url=server.url) as http:
                bucket = {
                    "bucket_name": "b",
                    "bucket_schema": {"properties": {"doc": {"type": "text"}}},
                }
                async with http.post("/v1/buckets", json=bucket, headers=headers) as reply:
                    assert reply.status == 200, await reply.text()
                request = objects_pb2.CreateObjectRequest(bucket_identifier="b")
                blob = request.blobs.add(property="doc", type=common_pb2.FIELD_TYPE_TEXT)
                blob.data.struct_value.update(
                    {"base64": base64.b64encode(os.urandom(4096)).decode()}
                )
                stub = objects_pb2_grpc.ObjectServiceStub(channel)
                counted = {
                    f"gRPC, {k}": v
                    for k, v in (await _count_one_create(stub, request, metadata)).items()
                }
                MONGO.commands.clear()
                S3_REQUESTS.clear()
                body = {
                    "blobs": [
                        {
                            "property": "doc",
                            "type": "text",
                            "data": {"base64": base64.b64encode(os.urandom(4096)).decode()},
                        }
                    ]
                }
                async with http.post("/v1/buckets/b/objects", json=body, headers=headers) as reply:
                    assert reply.status == 200, await reply.text()
                counted["REST, new bytes"] = (
                    sum(MONGO.commands.values()),
                    sum(S3_REQUESTS.values()),
                )
                print(f"one REST create, new bytes: {dict(MONGO.commands)}, S3 {dict(S3_REQUESTS)}")
    return counted


def report(counted: dict[str, tuple[int, int]]) -> None:
    print(f"\n4. MongoDB commands per small create (4 KiB inline; target ≤ {TARGET})")
    table(
        ["create", "MongoDB commands", "S3 requests", f"ratio to {TARGET}"],
        [[k, str(m), str(s), f"{m / TARGET:.2f}"] for k, (m, s) in counted.items()],
    )
