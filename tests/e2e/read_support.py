"""Helpers of the read tests: objects uploaded over gRPC, and ReadObject read back whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import crc32c
from grpc import aio

from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant

MIB = 1024 * 1024


async def upload(
    service: Service,
    tenant: Tenant,
    data: bytes,
    *,
    filename: str = "n.txt",
    mime_type: str = "text/plain",
) -> str:
    """An object of bucket `things` whose `notes` blob holds `data`: its id."""
    header = pb.UploadObjectRequest(
        header=pb.UploadObjectHeader(
            bucket_identifier="things",
            blobs=[pb.UploadBlobHeader(property="notes", mime_type=mime_type, filename=filename)],
        )
    )
    chunks = [
        pb.UploadObjectRequest(
            chunk=pb.BlobChunk(blob_index=0, write_offset=start, data=data[start : start + MIB])
        )
        for start in range(0, len(data), MIB)
    ]
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    reply = await stub.UploadObject(iter([header, *chunks]), metadata=tenant.metadata())
    return reply.object.object_id


@dataclass
class Read:
    metadata: pb.ReadObjectMetadata
    data: bytes
    slices: list[int]


async def read(channel: aio.Channel, tenant: Tenant, object_id: str, **fields: Any) -> Read:
    """ReadObject, whole: each slice's CRC32C checked on the way."""
    stub = objects_pb2_grpc.ObjectServiceStub(channel)
    fields.setdefault("blob", "notes")
    request = pb.ReadObjectRequest(
        bucket_identifier="things", object_identifier=object_id, **fields
    )
    messages = [m async for m in stub.ReadObject(request, metadata=tenant.metadata())]
    first, rest = messages[0], messages[1:]
    assert first.HasField("metadata") and not first.HasField("checksummed_data")
    for message in rest:
        assert not message.HasField("metadata")
        assert crc32c.crc32c(message.checksummed_data.content) == message.checksummed_data.crc32c
    pieces = [m.checksummed_data.content for m in rest]
    return Read(first.metadata, b"".join(pieces), [len(p) for p in pieces])
