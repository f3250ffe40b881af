"""UploadService, UploadConfirmations and StreamUploads over the fakes (tests/unit/world.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bucketd.server.domain.listing import ListQuery
from bucketd.server.domain.models import Namespace, ObjectRecord, Principal
from bucketd.server.domain.status import Status
from bucketd.server.domain.streams import StreamBlobSpec, StreamChunk, StreamHeader
from bucketd.server.domain.tasks import TaskType
from bucketd.server.domain.uploads import UploadRequest
from bucketd.server.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from bucketd.server.services.buckets import NewBucket
from bucketd.server.services.content_writer import PART_BYTES
from bucketd.server.services.streams import Message
from bucketd.server.services.upload_confirm import Confirmation
from tests.unit.world import World, world

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCHEMA = {"properties": {"doc": {"type": "pdf"}, "title": {"type": "string"}}}


async def _ready() -> tuple[World, Namespace, str]:
    w = world()
    principal, namespace = await w.tenant()
    new = NewBucket(
        name="papers", description=None, bucket_schema=SCHEMA, unique_key=None, metadata={}
    )
    await w.services.buckets.create(namespace, new)
    return w, namespace, principal.organization_id


def _request(name: str = "a.pdf", file_hash: str | None = None) -> UploadRequest:
    return UploadRequest(
        filename=name, content_type="application/pdf", blob_property="doc", file_hash=file_hash
    )


async def _uploaded(w: World, namespace: Namespace, org: str, name: str = "a.pdf") -> str:
    view = await w.services.uploads.create(namespace, org, "papers", _request(name))
    w.storage.objects[view.record.s3_key] = PDF  # the client's PUT to the presigned URL
    return view.record.upload_id


async def test_a_confirm_checks_the_file_then_makes_the_object_where_it_lies() -> None:
    w, namespace, org = await _ready()
    upload_id = await _uploaded(w, namespace, org)
    confirmations = w.services.confirmations
    with pytest.raises(FailedPrecondition, match="etag"):
        await confirmations.confirm(
            namespace, "papers", upload_id, etag="nope", size=None, run_async=False
        )
    record = w.db.uploads[upload_id]
    assert record.status == Status.PENDING  # a failed check loses nothing
    done = await confirmations.confirm(
        namespace,
        "papers",
        upload_id,
        etag=hashlib.md5(PDF).hexdigest(),
        size=len(PDF),
        run_async=False,
    )
    assert done.status == Status.COMPLETED and done.file_hash == hashlib.sha256(PDF).hexdigest()
    made = await w.services.object_reads.get(namespace, "papers", done.object_id or "")
    assert made.blobs[0].storage_key == record.s3_key  # not copied: it became the blob
    again = await confirmations.confirm(
        namespace, "papers", upload_id, etag=None, size=None, run_async=False
    )
    assert again.object_id == done.object_id


async def test_nothing_uploaded_or_expired_stays_pending() -> None:
    w, namespace, org = await _ready()
    view = await w.services.uploads.create(namespace, org, "papers", _request())
    upload_id = view.record.upload_id
    with pytest.raises(FailedPrecondition, match="PUT the file"):
        await w.services.confirmations.confirm(
            namespace, "papers", upload_id, etag=None, size=None, run_async=False
        )
    w.clock.advance(3601)
    w.storage.objects[view.record.s3_key] = PDF
    with pytest.raises(FailedPrecondition, match="expired"):
        await w.services.confirmations.confirm(
            namespace, "papers", upload_id, etag=None, size=None, run_async=False
        )
    expired, resumed = await w.services.confirmations.sweep()
    assert (expired, resumed) == (1, 0) and w.db.uploads[upload_id].status == Status.FAILED
    assert view.record.s3_key not in w.storage.objects


async def test_an_async_confirm_is_a_pollable_task_and_a_batch_reports_each_upload() -> None:
    w, namespace, org = await _ready()
    principal = await _principal(w)
    one = await _uploaded(w, namespace, org, "one.pdf")
    pending = await w.services.confirmations.confirm(
        namespace, "papers", one, etag=None, size=None, run_async=True
    )
    assert pending.status == Status.PROCESSING and pending.task_id
    await w.services.confirmations.drain()
    task = await w.services.tasks.get(principal, pending.task_id)
    assert task.task_type == TaskType.CONFIRM_UPLOAD and task.status == Status.COMPLETED
    two = await _uploaded(w, namespace, org, "two.pdf")
    batch = await w.services.confirmations.confirm_batch(
        namespace, "papers", [Confirmation(two), Confirmation("upl_missing")]
    )
    await w.services.tasks.drain()
    done = await w.services.tasks.get(principal, batch.task_id)
    assert done.status == Status.COMPLETED_WITH_ERRORS
    assert done.outputs["uploads"][two]["status"] == Status.COMPLETED
    assert "not found" in done.outputs["uploads"]["upl_missing"]["error"]


async def _principal(w: World) -> Principal:
    issued = await w.services.api_keys.issue("acme", test=True)
    return await w.services.api_keys.authenticate(f"Bearer {issued.plaintext}")


async def test_uploads_are_listed_deduplicated_and_cancelled() -> None:
    w, namespace, org = await _ready()
    uploads = w.services.uploads
    done_id = await _uploaded(w, namespace, org, "done.pdf")
    await w.services.confirmations.confirm(
        namespace, "papers", done_id, etag=None, size=None, run_async=False
    )
    digest = hashlib.sha256(PDF).hexdigest()
    duplicate = await uploads.create(
        namespace, org, "papers", _request("again.pdf", file_hash=digest)
    )
    assert duplicate.is_duplicate and duplicate.duplicate_of_upload_id == done_id
    w.clock.advance(1)
    waiting = await uploads.create(namespace, org, "papers", _request("waiting.pdf"))
    page = await uploads.page(namespace, "papers", ListQuery(filters={"status": "PENDING"}))
    assert [v.upload_id for v in page.results] == [waiting.record.upload_id]
    assert page.stats["uploads_by_status"] == {"PENDING": 1}
    await uploads.cancel(namespace, "papers", waiting.record.upload_id, delete_bytes=True)
    assert w.db.uploads[waiting.record.upload_id].status == Status.CANCELED
    with pytest.raises(FailedPrecondition, match="cannot be cancelled"):
        await uploads.cancel(namespace, "papers", done_id, delete_bytes=True)
    _, theirs = await w.tenant("globex", "default")
    with pytest.raises(NotFound):
        await uploads.get(theirs, "papers", done_id, presign=False)


async def _messages(*items: Message) -> AsyncIterator[Message]:
    for item in items:
        yield item


def _header() -> StreamHeader:
    spec = StreamBlobSpec(property="doc", mime_type="application/pdf", expected_size=len(PDF))
    return StreamHeader(bucket_identifier="papers", blobs=[spec])


async def test_a_stream_makes_an_object_and_refuses_gaps() -> None:
    w, namespace, _ = await _ready()
    streams = w.services.streams
    made = await streams.upload(
        namespace,
        _messages(_header(), StreamChunk(0, 0, PDF[:10]), StreamChunk(0, 10, PDF[10:])),
    )
    assert made.status == Status.PENDING and made.blobs[0].size_bytes == len(PDF)
    with pytest.raises(Exception, match="offset") as gap:
        await streams.upload(namespace, _messages(_header(), StreamChunk(0, 5, PDF)))
    assert gap.type.__name__ == "OffsetMismatch"
    with pytest.raises(InvalidArgument, match="size"):
        await streams.upload(namespace, _messages(_header(), StreamChunk(0, 0, PDF[:10])))


def _checked(expected_sha256: str) -> StreamHeader:
    spec = StreamBlobSpec(
        property="doc", mime_type="application/pdf", expected_sha256=expected_sha256
    )
    return StreamHeader(bucket_identifier="papers", blobs=[spec])


async def test_a_streams_checksum_follows_the_one_rule_and_its_answer_the_one_spelling() -> None:
    w, namespace, _ = await _ready()
    streams = w.services.streams
    digest = hashlib.sha256(PDF).hexdigest()
    for given in (digest, f"sha256:{digest}", f"SHA256:{digest.upper()}"):
        made = await streams.upload(namespace, _messages(_checked(given), StreamChunk(0, 0, PDF)))
        assert made.blobs[0].sha256 == digest
    with pytest.raises(InvalidArgument) as refused:
        await streams.upload(namespace, _messages(_checked("0" * 64), StreamChunk(0, 0, PDF)))
    assert f"sha256:{digest}, not sha256:{'0' * 64}" in refused.value.message
    with pytest.raises(InvalidArgument, match="expected_sha256"):
        await streams.upload(namespace, _messages(_checked("md5:00"), StreamChunk(0, 0, PDF)))
    assert not w.storage.multipart  # a refused stream completes no upload


async def test_a_session_survives_a_broken_stream_and_is_held_by_one_stream() -> None:
    w, namespace, _ = await _ready()
    streams = w.services.streams
    session_id, _, _ = await streams.start_session(namespace, _header())
    status = await streams.session_status(namespace, session_id)
    assert [b.persisted for b in status.blobs] == [0]
    made = await streams.upload(
        namespace, _messages(StreamHeader(session_id=session_id), StreamChunk(0, 0, PDF))
    )
    assert made.blobs[0].sha256 == hashlib.sha256(PDF).hexdigest()
    finished = await streams.session_status(namespace, session_id)
    assert finished.made is not None and finished.made.object_id == made.object_id
    other, _, _ = await streams.start_session(namespace, _header())
    await streams.cancel_session(namespace, other)
    with pytest.raises(NotFound):
        await streams.session_status(namespace, other)


async def _stalled_after(session_id: str, sent: bytes) -> AsyncIterator[Message]:
    yield StreamHeader(session_id=session_id, leave_open=True)
    yield StreamChunk(0, 0, sent)
    await asyncio.Event().wait()  # a client gone quiet: the server cannot tell


async def test_a_newer_stream_takes_the_session_over_and_keeps_every_byte() -> None:
    w, namespace, _ = await _ready()
    streams = w.services.streams
    session_id, _, _ = await streams.start_session(namespace, _header())
    stale = asyncio.create_task(streams.upload(namespace, _stalled_after(session_id, PDF[:10])))
    await asyncio.sleep(0.05)  # the stale stream holds the session and has its 10 bytes
    status = await streams.session_status(namespace, session_id, take_over=True)
    with pytest.raises(Aborted, match="took this upload session over"):
        await stale
    assert [b.persisted for b in status.blobs] == [10]  # kept as the session's tail
    made = await streams.upload(
        namespace,
        _messages(StreamHeader(session_id=session_id), StreamChunk(0, 10, PDF[10:])),
    )
    assert made.blobs[0].size_bytes == len(PDF)
    assert made.blobs[0].sha256 == hashlib.sha256(PDF).hexdigest()


async def test_a_cancel_ends_the_stream_writing_the_session() -> None:
    w, namespace, _ = await _ready()
    streams = w.services.streams
    session_id, _, _ = await streams.start_session(namespace, _header())
    stale = asyncio.create_task(streams.upload(namespace, _stalled_after(session_id, PDF[:10])))
    await asyncio.sleep(0.05)
    await streams.cancel_session(namespace, session_id)
    with pytest.raises(Aborted):
        await stale
    with pytest.raises(NotFound):
        await streams.session_status(namespace, session_id)


async def _in_appends(
    streams: Any, namespace: Namespace, data: bytes, *, later: Any = None
) -> ObjectRecord:
    """A session filled in three appends (a whole part, then tails), the last finishing it;
    `later` (another instance's streams) takes the appends after the first."""
    part = PART_BYTES
    spec = StreamBlobSpec(property="doc", mime_type="application/pdf", expected_size=len(data))
    session_id, _, _ = await streams.start_session(
        namespace, StreamHeader(bucket_identifier="papers", blobs=[spec])
    )
    pieces = [(0, part + 5), (part + 5, part + 10), (part + 10, len(data))]
    made = None
    for index, (start, end) in enumerate(pieces):
        last = index == len(pieces) - 1
        service = later if later is not None and index > 0 else streams
        chunks = [
            StreamChunk(0, at, data[at : min(at + 1024 * 1024, end)])
            for at in range(start, end, 1024 * 1024)
        ]
        made = await service.upload(
            namespace,
            _messages(StreamHeader(session_id=session_id, leave_open=not last), *chunks),
        )
    assert isinstance(made, ObjectRecord)
    return made


def _object_reads(w: World) -> list[str]:
    return [op[1] for op in w.journal if op[0] == "read" and not op[1].endswith(".tail")]


async def test_appends_continue_the_sessions_hash_instead_of_reading_it_back() -> None:
    """The object's SHA-256 comes from the hash the appends carried on: the finished object is
    never read back from S3. Appends taken by another instance (no hash kept there) fall back
    to reading it."""
    data = bytes(range(256)) * ((PART_BYTES + 4 * 1024 * 1024) // 256)
    w, namespace, _ = await _ready()
    made = await _in_appends(w.services.streams, namespace, data)
    assert made.blobs[0].sha256 == hashlib.sha256(data).hexdigest()
    assert _object_reads(w) == []
    other = world(beside=w)  # another instance: it never saw the first append
    data = data[::-1]
    made = await _in_appends(w.services.streams, namespace, data, later=other.services.streams)
    assert made.blobs[0].sha256 == hashlib.sha256(data).hexdigest()
    assert len(_object_reads(w)) == 1  # read back once, to hash it


async def test_an_upload_url_secret_names_its_live_session_only() -> None:
    w, namespace, _ = await _ready()
    streams = w.services.streams
    session_id, _, secret = await streams.start_session(namespace, _header())
    other, _, other_secret = await streams.start_session(namespace, _header())
    assert len(secret) >= 22 and secret != other_secret  # ≥ 128 bits, one per session
    holder = await streams.holder_of_url(session_id, secret)
    assert holder == (namespace.organization_id, namespace.namespace_id)
    for wrong in ("", other_secret, secret[:-1]):
        with pytest.raises(NotFound):
            await streams.holder_of_url(session_id, wrong)
    await streams.cancel_session(namespace, session_id)
    with pytest.raises(NotFound):  # cancelled: no capability any more
        await streams.holder_of_url(session_id, secret)
    assert await streams.holder_of_url(other, other_secret)
