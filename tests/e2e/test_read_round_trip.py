"""200 MiB up over gRPC and back over HTTP (the in-process gateway, and a gateway of its own that
dials ReadObject over gRPC) and over gRPC: the same SHA-256 every way, never held whole."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import aiohttp

from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket
from tests.e2e.read_support import MIB

SIZE = 200 * MIB


def _block(index: int) -> bytes:
    """Megabyte `index` of the file: random-looking, made again on demand, never stored."""
    return hashlib.shake_256(index.to_bytes(4, "big")).digest(MIB)


def _expected() -> str:
    whole = hashlib.sha256()
    for index in range(SIZE // MIB):
        whole.update(_block(index))
    return whole.hexdigest()


async def _upload(service: Service, tenant: Tenant) -> str:
    header = pb.UploadBlobHeader(property="notes", mime_type="text/plain", filename="big.bin")

    async def messages() -> AsyncIterator[pb.UploadObjectRequest]:
        yield pb.UploadObjectRequest(
            header=pb.UploadObjectHeader(bucket_identifier="things", blobs=[header])
        )
        for index in range(SIZE // MIB):
            chunk = pb.BlobChunk(blob_index=0, write_offset=index * MIB, data=_block(index))
            yield pb.UploadObjectRequest(chunk=chunk)

    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    reply = await stub.UploadObject(messages(), metadata=tenant.metadata())
    return reply.object.object_id


async def _over_http(http: aiohttp.ClientSession, path: str, tenant: Tenant) -> str:
    whole = hashlib.sha256()
    async with http.get(path, headers=tenant.headers()) as reply:
        assert reply.status == 200, await reply.text()
        assert reply.headers["Content-Length"] == str(SIZE)
        async for piece in reply.content.iter_chunked(4 * MIB):
            whole.update(piece)
    return whole.hexdigest()


async def test_200_mib_round_trip(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await _upload(service, acme)
    expected = _expected()
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    request = pb.ReadObjectRequest(
        bucket_identifier="things", object_identifier=object_id, blob="notes"
    )
    whole, stored = hashlib.sha256(), ""
    async for message in stub.ReadObject(request, metadata=acme.metadata()):
        if message.HasField("metadata"):
            stored = message.metadata.details.hash
        whole.update(message.checksummed_data.content)
    assert whole.hexdigest() == expected and stored == f"sha256:{expected}"
    path = f"/v1/buckets/things/objects/{object_id}/blobs/notes/content"
    assert await _over_http(service.http, path, acme) == expected
    async with (
        running_gateway(service.grpc_address, GatewaySettings(), host="127.0.0.1", port=0) as url,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        assert await _over_http(http, path, acme) == expected
        async with http.get(path, headers={**acme.headers(), "Range": "bytes=-5"}) as reply:
            assert reply.status == 206 and await reply.read() == _block(199)[-5:]
