"""ReadObject over gRPC: whole blobs and ranges at every edge, slices with their CRC32C, and the
errors (another namespace's object, a range past the end, a blob with no stored bytes)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import grpc
import pytest
from grpc import aio

from bucketd.client import AsyncClient
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import create, digest, make_bucket
from tests.e2e.read_support import MIB, read, upload


async def test_whole_blob_in_slices_with_metadata(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    data = os.urandom(5 * MIB + 7)
    object_id = await upload(service, acme, data, filename='a "b"/ü.txt')
    got = await read(service.channel, acme, object_id)
    assert got.data == data
    assert got.slices == [2 * MIB, 2 * MIB, MIB + 7]
    details = got.metadata.details
    assert (details.size_bytes, details.mime_type, details.filename, details.hash) == (
        len(data),
        "text/plain",
        'a "b"/ü.txt',
        digest(data),
    )
    assert (got.metadata.read_offset, got.metadata.read_length) == (0, len(data))
    by_index = await read(service.channel, acme, object_id, blob="0")
    assert by_index.data == data


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"read_offset": 0, "read_limit": 1}, slice(0, 1)),  # the first byte
        ({"read_offset": 2999}, slice(2999, 3000)),  # the last byte
        ({"read_offset": -10}, slice(2990, 3000)),  # a suffix
        ({"read_offset": -5000}, slice(0, 3000)),  # a suffix longer than the blob: all of it
        ({"read_offset": 100, "read_limit": 50}, slice(100, 150)),
        ({"read_offset": 2990, "read_limit": 500}, slice(2990, 3000)),  # a limit past the end
    ],
)
async def test_ranges(
    service: Service, acme: Tenant, fields: dict[str, int], expected: slice
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(3000)
    object_id = await upload(service, acme, data)
    got = await read(service.channel, acme, object_id, **fields)
    assert got.data == data[expected]
    assert (got.metadata.read_offset, got.metadata.read_length) == (
        expected.start,
        expected.stop - expected.start,
    )
    assert got.metadata.details.size_bytes == len(data)


async def _failure(
    service: Service, tenant: Tenant, object_id: str, **fields: object
) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as failed:
        await read(service.channel, tenant, object_id, **fields)
    return failed.value


async def test_past_the_end_is_out_of_range(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, b"0123456789")
    for offset in (10, 11):
        failure = await _failure(service, acme, object_id, read_offset=offset)
        assert failure.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "past the end of the blob (10 bytes)" in (failure.details() or "")
    failure = await _failure(service, acme, object_id, read_limit=-1)
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_empty_blob(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    object_id = await upload(service, acme, b"")
    got = await read(service.channel, acme, object_id)
    assert (got.data, got.slices, got.metadata.read_length) == (b"", [], 0)
    assert got.metadata.details.hash == digest(b"")
    failure = await _failure(service, acme, object_id, read_offset=1)
    assert failure.code() == grpc.StatusCode.OUT_OF_RANGE


async def test_another_namespace_is_not_found(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, globex)
    object_id = await upload(service, acme, b"secret")
    theirs = await _failure(service, globex, object_id)
    missing = await _failure(service, globex, "obj_doesnotexist")
    assert theirs.code() == missing.code() == grpc.StatusCode.NOT_FOUND
    assert theirs.details() == (missing.details() or "").replace("obj_doesnotexist", object_id)
    no_blob = await _failure(service, acme, object_id, blob="image")
    assert no_blob.code() == grpc.StatusCode.NOT_FOUND
    assert "blob 'image' not found" in (no_blob.details() or "")


async def test_url_reference_has_no_stored_bytes(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    status, made = await create(
        service,
        acme,
        {
            "canonicalize_source": False,
            "blobs": [
                {"property": "doc", "type": "pdf", "data": {"url": "https://example.com/a.pdf"}}
            ],
        },
    )
    assert status == 200, made
    failure = await _failure(service, acme, made["object_id"], blob="doc")
    assert failure.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "holds no stored bytes" in (failure.details() or "")


async def test_a_reader_that_stops_mid_stream(service: Service, acme: Tenant) -> None:
    """The call ends when the reader cancels it; the server stays well (a next read works)."""
    await make_bucket(service, acme)
    data = os.urandom(9 * MIB)
    object_id = await upload(service, acme, data)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    call = stub.ReadObject(
        pb.ReadObjectRequest(bucket_identifier="things", object_identifier=object_id, blob="0"),
        metadata=acme.metadata(),
    )
    first, second = await call.read(), await call.read()
    assert isinstance(first, pb.ReadObjectResponse) and first.metadata.read_length == len(data)
    assert isinstance(second, pb.ReadObjectResponse)
    assert second.checksummed_data.content == data[: 2 * MIB]
    call.cancel()
    assert call.cancelled()
    again = await read(service.channel, acme, object_id)
    assert again.data == data


async def test_the_python_client_downloads_through_read_object(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    """AsyncClient.download: through ReadObject by default, through a presigned URL on request;
    the same bytes either way."""
    await make_bucket(service, acme)
    data = os.urandom(5 * MIB + 3)
    object_id = await upload(service, acme, data, filename="f.bin")
    async with AsyncClient(
        service.grpc_address, api_key=acme.api_key, namespace=acme.namespace
    ) as client:
        through_grpc = await client.download("things", object_id, tmp_path / "a.bin")
        presigned = await client.download("things", object_id, tmp_path / "b", presigned=True)
    files = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir()))
    assert files == ["a.bin", "b"]  # no .part left behind
    assert await asyncio.to_thread(through_grpc.read_bytes) == data
    assert await asyncio.to_thread(presigned.read_bytes) == data
