"""UploadObject over gRPC: multi-blob streams, offsets, checksums, cancel and resume."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import google_crc32c
import grpc
import pytest
from grpc import aio
from pymongo import AsyncMongoClient

from bucketd.server.services.content_writer import PART_BYTES
from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import (
    digest,
    make_bucket,
    multipart_uploads,
    s3_bytes,
    s3_keys,
    sha256,
)

MIB = 1024 * 1024


def _header(*blobs: pb.UploadBlobHeader, session_id: str = "") -> pb.UploadObjectRequest:
    return pb.UploadObjectRequest(
        header=pb.UploadObjectHeader(bucket_identifier="things", blobs=blobs, session_id=session_id)
    )


def _text_blob(**fields: Any) -> pb.UploadBlobHeader:
    return pb.UploadBlobHeader(property="notes", mime_type="text/plain", filename="n.txt", **fields)


def _chunks(
    index: int, data: bytes, *, start: int = 0, size: int = MIB
) -> list[pb.UploadObjectRequest]:
    return [
        pb.UploadObjectRequest(
            chunk=pb.BlobChunk(
                blob_index=index, write_offset=start + offset, data=data[offset : offset + size]
            )
        )
        for offset in range(0, len(data), size)
    ]


async def _upload(
    service: Service, tenant: Tenant, messages: Iterable[pb.UploadObjectRequest]
) -> pb.Object:
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    reply = await stub.UploadObject(iter(list(messages)), metadata=tenant.metadata())
    return reply.object


async def test_multi_blob_stream(service: Service, acme: Tenant, settings: Settings) -> None:
    await make_bucket(service, acme)
    big, small = os.urandom(10 * MIB + 123), b"%PDF-1.4 small document"
    first, second = _chunks(0, big), _chunks(1, small)
    interleaved = [first[0], second[0], *first[1:]]
    obj = await _upload(
        service,
        acme,
        [
            _header(
                _text_blob(expected_size_bytes=len(big), expected_sha256=sha256(big)),
                pb.UploadBlobHeader(property="doc", filename="s.pdf"),
            ),
            *interleaved,
        ],
    )
    notes, doc = obj.blobs
    assert (notes.details.size_bytes, notes.details.hash) == (len(big), digest(big))
    assert doc.details.mime_type == "application/pdf" and doc.details.hash == digest(small)
    assert await s3_bytes(settings, str(notes.properties["url"])) == big
    assert await multipart_uploads(settings) == []
    assert len(await s3_keys(settings)) == 2  # each blob's bytes once, where they were written


@pytest.mark.parametrize(
    ("blob", "chunks", "code", "fragment"),
    [
        (
            _text_blob(),
            lambda d: [_chunks(0, d)[1]],
            grpc.StatusCode.OUT_OF_RANGE,
            "offsets must be contiguous",
        ),
        (
            _text_blob(expected_sha256="0" * 64),
            lambda d: _chunks(0, d),
            grpc.StatusCode.INVALID_ARGUMENT,
            "SHA-256",
        ),
        (
            _text_blob(expected_size_bytes=1),
            lambda d: _chunks(0, d),
            grpc.StatusCode.INVALID_ARGUMENT,
            "expected_size_bytes",
        ),
        (
            _text_blob(expected_crc32c=1),
            lambda d: _chunks(0, d),
            grpc.StatusCode.INVALID_ARGUMENT,
            "CRC32C",
        ),
        (
            _text_blob(),
            lambda d: _chunks(0, d, size=2 * MIB + 1),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "per-message limit",
        ),
        (
            pb.UploadBlobHeader(property="image", mime_type="text/plain"),
            lambda d: [],
            grpc.StatusCode.INVALID_ARGUMENT,
            "does not fit an image property",
        ),
    ],
)
async def test_bad_streams_store_nothing(
    service: Service,
    acme: Tenant,
    settings: Settings,
    *,
    blob: pb.UploadBlobHeader,
    chunks: Any,
    code: grpc.StatusCode,
    fragment: str,
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(3 * MIB)
    with pytest.raises(aio.AioRpcError) as raised:
        await _upload(service, acme, [_header(blob), *chunks(data)])
    assert raised.value.code() == code
    assert fragment in (raised.value.details() or "")
    assert await multipart_uploads(settings) == []
    assert await s3_keys(settings) == []


async def test_crc32c_that_matches_is_accepted(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    data = os.urandom(MIB)
    crc = int.from_bytes(google_crc32c.Checksum(data).digest(), "big")  # type: ignore[no-untyped-call]
    obj = await _upload(
        service, acme, [_header(_text_blob(expected_crc32c=crc)), *_chunks(0, data)]
    )
    assert obj.blobs[0].details.hash == digest(data)


async def _stream_then_stall(
    service: Service, tenant: Tenant, first: list[pb.UploadObjectRequest], sent: asyncio.Event
) -> aio.StreamUnaryCall[pb.UploadObjectRequest, pb.UploadObjectResponse]:
    async def requests() -> AsyncIterator[pb.UploadObjectRequest]:
        for message in first:
            yield message
        sent.set()
        await asyncio.Event().wait()  # the client goes quiet until it cancels

    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    return stub.UploadObject(requests(), metadata=tenant.metadata())


async def test_client_cancel_leaves_no_multipart_upload(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    sent = asyncio.Event()
    data = os.urandom(9 * MIB)
    call = await _stream_then_stall(service, acme, [_header(_text_blob()), *_chunks(0, data)], sent)
    await sent.wait()
    await until(lambda: _has_multipart(settings))
    call.cancel()
    await until(lambda: _no_multipart(settings))


async def _has_multipart(settings: Settings) -> bool:
    return bool(await multipart_uploads(settings))


async def _no_multipart(settings: Settings) -> bool:
    return not await multipart_uploads(settings)


async def test_resume_after_a_dropped_stream(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    data = os.urandom(PART_BYTES + 4 * MIB)
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(
            header=_header(_text_blob(expected_sha256=sha256(data))).header
        ),
        metadata=acme.metadata(),
    )
    session = started.session_id
    sent = asyncio.Event()
    call = await _stream_then_stall(
        service, acme, [_header(session_id=session), *_chunks(0, data[: PART_BYTES + MIB])], sent
    )
    await sent.wait()

    async def part_persisted() -> bool:
        status = await stub.GetUploadSession(
            pb.GetUploadSessionRequest(session_id=session), metadata=acme.metadata()
        )
        return list(status.persisted_sizes) == [PART_BYTES]

    await until(part_persisted)
    call.cancel()  # the connection drops; the part survives, and the bytes after it too
    status = await stub.GetUploadSession(  # once the stream the server still runs has let go
        pb.GetUploadSessionRequest(session_id=session, take_over=True), metadata=acme.metadata()
    )
    offset = status.persisted_sizes[0]
    assert PART_BYTES < offset <= PART_BYTES + MIB
    obj = await _upload(
        service, acme, [_header(session_id=session), *_chunks(0, data[offset:], start=offset)]
    )
    assert obj.blobs[0].details.hash == digest(data)
    assert obj.blobs[0].details.size_bytes == len(data)
    assert await multipart_uploads(settings) == []
    finished = await stub.GetUploadSession(  # its answer lost, a client learns what it made
        pb.GetUploadSessionRequest(session_id=session), metadata=acme.metadata()
    )
    assert (finished.complete, finished.object_id) == (True, obj.object_id)
    assert list(finished.persisted_sizes) == [len(data)]


async def test_the_newest_stream_takes_a_session_over(service: Service, acme: Tenant) -> None:
    """A second stream while one is writing the session ends the first (ABORTED), keeps what
    the first delivered, and is told where to continue if it started elsewhere."""
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    data = os.urandom(3 * MIB)
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=_header(_text_blob()).header), metadata=acme.metadata()
    )
    session = started.session_id
    sent = asyncio.Event()
    first = await _stream_then_stall(
        service, acme, [_header(session_id=session), *_chunks(0, data[:MIB])], sent
    )
    await sent.wait()
    await asyncio.sleep(0.2)  # the server has read what the first stream sent
    with pytest.raises(aio.AioRpcError) as elsewhere:
        await _upload(service, acme, [_header(session_id=session), *_chunks(0, data)])
    assert elsewhere.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "expected is at offset 1048576" in (elsewhere.value.details() or "")
    with pytest.raises(aio.AioRpcError) as ended:
        await first
    assert ended.value.code() == grpc.StatusCode.ABORTED
    assert "took this upload session over" in (ended.value.details() or "")
    obj = await _upload(
        service, acme, [_header(session_id=session), *_chunks(0, data[MIB:], start=MIB)]
    )
    assert obj.blobs[0].details.hash == digest(data)


async def test_a_dead_holders_hold_runs_out(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    """A holder that died (another instance, killed mid-stream) left its hold in the record,
    renewed a moment before: a new stream asks for it, waits for it to run out, and proceeds."""
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    data = os.urandom(MIB)
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=_header(_text_blob()).header), metadata=acme.metadata()
    )
    session = started.session_id
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    objects = client[settings.mongodb_database]["objects"]
    try:
        held_until = datetime.now(UTC) + timedelta(seconds=3)
        await objects.update_one(
            {"write.write_id": session},
            {"$set": {"write.stream_token": "hold_dead", "write.streaming_until": held_until}},
        )
        obj = await _upload(service, acme, [_header(session_id=session), *_chunks(0, data)])
        assert datetime.now(UTC) >= held_until
        assert obj.blobs[0].details.hash == digest(data)
    finally:
        await client.close()


async def test_abandoned_sessions_expire(
    service: Service, acme: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=_header(_text_blob()).header), metadata=acme.metadata()
    )
    assert await multipart_uploads(settings) != []
    assert settings.mongodb_uri
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    objects = client[settings.mongodb_database]["objects"]
    await objects.update_one(
        {"write.write_id": started.session_id},
        {"$set": {"write.lease_until": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    assert await service.services.janitor.reclaim_writes() == (1, 1)
    assert await multipart_uploads(settings) == []
    (failed,) = await objects.find({}).to_list()
    await client.close()
    assert failed["status"] == "FAILED" and "session expired" in failed["error"]
    with pytest.raises(aio.AioRpcError) as gone:
        await _upload(service, acme, [_header(session_id=started.session_id)])
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
