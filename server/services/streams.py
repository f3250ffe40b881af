"""Streamed uploads (ObjectService.UploadObject): the header plans the object and its record is
written first; each blob's bytes then flow into a multipart upload at its final key, hashed on
the way; the half-close checks sizes and checksums and commits the object.

Without a session, any failure, cancel, deadline or shutdown aborts the stream's multipart
uploads and leaves the object FAILED. A session (StartUploadSession) is a write whose lease is
its expiry: its uploaded parts survive a broken stream, GetUploadSession says how far each blob
got, and a new stream naming the session takes it over (the stream still writing it ends) and
continues from there. A stream that leaves the session open (HTTP resumable uploads append this
way) finishes nothing; like a broken one, it keeps every byte it received: whole parts in the
multipart upload, the rest as the session's tail (domain/writes.Tail).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import Streamed
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord
from bucketd.server.domain.object_plan import (
    BlobInput,
    ObjectInput,
    ObjectPlan,
    check_blob_count,
    plan_blob,
    plan_object,
)
from bucketd.server.domain.streams import (
    StreamBlobSpec,
    StreamChunk,
    StreamHeader,
    StreamLimits,
    check_chunk,
    check_header,
    check_written,
)
from bucketd.server.domain.writes import SESSION_PREFIX, Hold, Part, Tail, WriteKind
from bucketd.server.errors import (
    Aborted,
    BucketdError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.content_writer import PART_BYTES, ContentWriter
from bucketd.server.services.contents import Contents
from bucketd.server.services.drafts import Draft, Drafts
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.part_hashing import SessionHashes
from bucketd.server.services.ports import WriteStore

Clock = Callable[[], datetime]
Message = StreamHeader | StreamChunk | StreamBlobSpec


@dataclasses.dataclass(frozen=True)
class SessionBlob:
    persisted: int
    expected_size: int | None


@dataclasses.dataclass(frozen=True)
class SessionStatus:
    blobs: list[SessionBlob]
    expires_at: datetime
    # A finished session: the object it made (its answer may have been lost on the way).
    made: ObjectRecord | None = None


def session_not_found(session_id: str) -> NotFound:
    return NotFound(
        f"Upload session '{session_id}' not found or expired",
        details={"resource": "upload_session", "id": session_id},
    )


def _blob_input(bucket: Bucket, index: int, spec: StreamBlobSpec) -> BlobInput:
    field_type = (
        spec.type
        or bucket.bucket_schema.property(spec.property, where=f"blobs[{index}].property").type
    )
    return BlobInput(
        property=spec.property,
        type=field_type,
        metadata=spec.metadata,
        source=Streamed(
            filename=spec.filename,
            mime_type=spec.mime_type,
            expected_size=spec.expected_size,
            expected_sha256=spec.expected_sha256,
            expected_crc32c=spec.expected_crc32c,
        ),
    )


def _object_input(bucket: Bucket, header: StreamHeader) -> ObjectInput:
    return ObjectInput(
        key_prefix=header.key_prefix,
        blobs=[_blob_input(bucket, index, spec) for index, spec in enumerate(header.blobs)],
        metadata=header.metadata,
        skip_duplicates=header.skip_duplicates,
        force_remirror=header.force_remirror,
        idempotency_key=header.idempotency_key,
    )


class _Stream:
    """One stream's receiving end: the draft and a writer per announced blob."""

    def __init__(self, draft: Draft, bucket: Bucket, request: ObjectInput) -> None:
        self.draft = draft
        self.bucket = bucket
        self.request = request
        self.writers: list[ContentWriter] = []
        self.hold: _Hold | None = None  # a session's stream: its hold on the session


class _Hold:
    """A session held by one request at a time, so that two never write the same parts.

    A newer request takes the session over (draft-ietf-httpbis-resumable-upload, section
    Concurrency): it names itself in the record, the holder — on any instance — sees it at its
    next renewal, stops (its parts land, its tail is kept) and lets go, and the newcomer
    proceeds from the offset that leaves. A holder that died lets go when its hold runs out."""

    def __init__(
        self, writes: WriteStore, record: ObjectRecord, *, length: timedelta, clock: Clock
    ) -> None:
        assert record.write is not None
        self._writes, self._clock, self._length = writes, clock, length
        self._object_id, self._write_id = record.object_id, record.write.write_id
        self._token = new_id("hold_")
        self.ended = asyncio.Event()  # taken over, or lost: the stream must stop
        self._watch: asyncio.Task[None] | None = None

    @property
    def _every(self) -> float:
        return self._length.total_seconds() / 20

    async def _try(self) -> Hold:
        now = self._clock()
        return await self._writes.hold_stream(
            self._object_id, self._write_id, self._token, until=now + self._length, now=now
        )

    async def take_over(self) -> None:
        """Hold the session, ending the request that holds it now (waiting for it to let go)."""
        answer = await self._try()
        if answer is Hold.BUSY:
            until = self._clock() + self._length * 2
            await self._writes.want_stream(
                self._object_id, self._write_id, self._token, until=until
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._length.total_seconds() * 2
            while answer is Hold.BUSY and loop.time() < deadline:
                await asyncio.sleep(self._every / 2)
                answer = await self._try()
        if answer is Hold.GONE:
            raise session_not_found(self._write_id)
        if answer is not Hold.TAKEN:
            seconds = int(self._length.total_seconds() * 2)
            raise Aborted(
                f"the request writing this upload session did not let go within {seconds} s, "
                "or a newer request took the session over: retry",
                details={"resource": "upload_session", "id": self._write_id},
            )
        self._watch = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                answer = await self._try()
            except BucketdError:
                continue  # MongoDB away for a moment: the hold lasts _length
            if answer is not Hold.TAKEN:
                self.ended.set()
                return

    async def release(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await self._writes.release_stream(self._object_id, self._write_id, self._token)


async def _until_ended(
    messages: AsyncIterator[Message], hold: _Hold | None
) -> AsyncIterator[Message]:
    """The stream's messages until a newer request takes its session over."""
    if hold is None:
        async for message in messages:
            yield message
        return
    ended = asyncio.ensure_future(hold.ended.wait())
    try:
        while True:
            received = asyncio.ensure_future(anext(messages, None))
            await asyncio.wait({received, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not received.done():
                received.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await received  # the reader has let go of the stream
                raise Aborted("a newer request took this upload session over")
            next_message = received.result()
            if next_message is None:
                return
            yield next_message
    finally:
        ended.cancel()


class StreamUploads:
    def __init__(
        self,
        *,
        objects: ObjectService,
        buckets: BucketService,
        drafts: Drafts,
        contents: Contents,
        sources: BlobSources,
        writes: WriteStore,
        limits: StreamLimits,
        session_ttl: timedelta,
        clock: Clock,
        # renewed every twentieth of it while the stream lives: what a dead holder blocks
        stream_hold: timedelta = timedelta(seconds=5),
    ) -> None:
        self._objects = objects
        self._buckets = buckets
        self._drafts = drafts
        self._contents = contents
        self._sources = sources
        self._writes = writes
        self._limits = limits
        self._session_ttl = session_ttl
        self._clock = clock
        self._stream_hold = stream_hold
        self._hashes = SessionHashes()

    async def _plan(
        self, namespace: Namespace, header: StreamHeader
    ) -> tuple[Bucket, ObjectInput, ObjectPlan]:
        """Refuse a header the object could never be made of, before anything is written."""
        check_header(header, self._limits)
        bucket = await self._buckets.get(namespace, header.bucket_identifier)
        request = _object_input(bucket, header)
        return bucket, request, plan_object(bucket, request, self._objects.limits)

    async def start_session(
        self, namespace: Namespace, header: StreamHeader
    ) -> tuple[str, datetime]:
        bucket, _, plan = await self._plan(namespace, header)
        if not plan.blobs:
            raise InvalidArgument("header.blobs: a session announces its blobs in the header")
        pending = [self._contents.new_pending(namespace.namespace_id) for _ in plan.blobs]
        saved = {"stream": dataclasses.asdict(header), "blob_ids": [b.blob_id for b in plan.blobs]}
        started = await self._drafts.begin(
            namespace,
            bucket,
            plan,
            kind=WriteKind.SESSION,
            pending=pending,
            lease=self._session_ttl,
            header=saved,
        )
        if isinstance(started, ObjectRecord):
            raise FailedPrecondition(
                f"idempotency_key: object {started.object_id} was made with it already"
            )
        try:
            for planned, item in zip(plan.blobs, pending, strict=True):
                spec = planned.data
                assert isinstance(spec, Streamed)
                await self._sources.open_writer(started, planned, item, spec.mime_type)
        except BaseException as error:
            await started.fail(error)
            raise
        return started.write.write_id, started.write.lease_until

    async def _live_session(
        self, namespace: Namespace, session_id: str, bucket: str | None = None
    ) -> ObjectRecord:
        """The session, live; with `bucket`, one of that bucket's (else it is not found)."""
        record = await self._writes.by_write(namespace.namespace_id, session_id)
        write = record.write if record else None
        if record is None or write is None or write.kind is not WriteKind.SESSION:
            raise session_not_found(session_id)
        if write.expired(self._clock()):
            raise session_not_found(session_id)
        await self._check_bucket(namespace, record, bucket, session_id)
        return record

    async def _check_bucket(
        self, namespace: Namespace, record: ObjectRecord, bucket: str | None, session_id: str
    ) -> None:
        if bucket is None:
            return
        try:
            named = await self._buckets.get(namespace, bucket)
        except NotFound:
            named = None
        if named is None or named.bucket_id != record.bucket_id:
            raise session_not_found(session_id)

    @property
    def part_bytes(self) -> int:
        """S3 receives the session's bytes in parts of this size."""
        return PART_BYTES

    @property
    def max_blob_bytes(self) -> int:
        return self._limits.max_blob_bytes

    @property
    def max_chunk_bytes(self) -> int:
        return self._limits.max_chunk_bytes

    async def session_status(
        self,
        namespace: Namespace,
        session_id: str,
        *,
        take_over: bool = False,
        bucket: str | None = None,
    ) -> SessionStatus:
        """A live session's progress, or the object a finished one made. Taking it over first
        ends the request writing it, so the offset answered cannot move under the caller."""
        try:
            record = await self._live_session(namespace, session_id, bucket)
            if take_over:
                hold = await self._hold(record)
                await hold.release()
                record = await self._live_session(namespace, session_id)
            write = record.write
        except NotFound:
            if not session_id.startswith(SESSION_PREFIX):
                raise
            made = await self._writes.by_committed_write(namespace.namespace_id, session_id)
            if made is None:  # never made, cancelled, expired, deleted
                raise
            await self._check_bucket(namespace, made, bucket, session_id)
            blobs = [SessionBlob(b.size_bytes or 0, b.size_bytes) for b in made.blobs]
            return SessionStatus(blobs, made.updated_at, made=made)
        assert write is not None and write.header is not None
        announced = write.header["stream"]["blobs"]
        blobs = [
            SessionBlob(item.persisted, spec.get("expected_size"))
            for item, spec in zip(write.pending, announced, strict=True)
        ]
        return SessionStatus(blobs, write.lease_until)

    async def cancel_session(
        self, namespace: Namespace, session_id: str, *, bucket: str | None = None
    ) -> None:
        """End the stream writing the session, if any, and abort its multipart uploads; its
        object ends FAILED."""
        record = await self._live_session(namespace, session_id, bucket)
        hold = await self._hold(record)  # never under a stream still writing its parts
        try:
            stream = await self._session_stream(namespace, record)
            await stream.draft.fail(
                InvalidArgument("the upload session was cancelled by its client")
            )
        finally:
            await hold.release()

    async def upload(self, namespace: Namespace, messages: AsyncIterator[Message]) -> ObjectRecord:
        """The object the stream makes. A refused stream is read to its end (bounded) before the
        error is answered: a client still sending when the status arrives would otherwise see
        gRPC's "Internal error from Core" instead of it."""
        try:
            return await self._upload(namespace, messages)
        except BucketdError:
            await self._drain(messages)
            raise

    async def _drain(self, messages: AsyncIterator[Message]) -> None:
        received = 0
        with contextlib.suppress(BucketdError):
            async for message in messages:
                if isinstance(message, StreamChunk):
                    received += len(message.data)
                    if received > self._limits.max_blob_bytes:
                        return

    async def _upload(self, namespace: Namespace, messages: AsyncIterator[Message]) -> ObjectRecord:
        first = await anext(messages, None)
        if not isinstance(first, StreamHeader):
            raise InvalidArgument("the first message of an UploadObject stream must be the header")
        if first.leave_open and not first.session_id:
            raise InvalidArgument("header.leave_open: only a stream that names a session_id")
        if first.session_id:
            bucket = first.bucket_identifier or None
            stream = await self._resume(namespace, first.session_id, bucket)
        else:
            started = await self._start(namespace, first)
            if isinstance(started, ObjectRecord):
                await self._drain(messages)  # an idempotent retry: the object made before
                return started
            stream = started
        try:
            return await self._write(stream, messages, leave_open=first.leave_open)
        finally:
            if stream.hold is not None:
                await stream.hold.release()

    async def _write(
        self, stream: _Stream, messages: AsyncIterator[Message], *, leave_open: bool
    ) -> ObjectRecord:
        async with stream.draft as draft:
            session = draft.write.kind is WriteKind.SESSION
            draft.keep_on_error = session  # a broken session stream keeps its parts
            try:
                await self._receive(messages, stream)
                if leave_open:  # an append: every byte persists, nothing is finished
                    for index, writer in enumerate(stream.writers):
                        await writer.stop()
                        if (state := writer.hash_state()) is not None:
                            self._hashes.keep(draft.write.write_id, index, *state)
                    return draft.record
                await _check_received(stream)  # a session keeps its parts if this fails
            except BaseException:
                for writer in stream.writers:
                    await (writer.stop() if session else writer.abort())
                raise
            draft.keep_on_error = False
            await self._finish(stream)
            return await draft.commit()

    async def _start(self, namespace: Namespace, header: StreamHeader) -> _Stream | ObjectRecord:
        bucket, request, plan = await self._plan(namespace, header)
        pending = [self._contents.new_pending(namespace.namespace_id) for _ in plan.blobs]
        started = await self._drafts.begin(
            namespace, bucket, plan, kind=WriteKind.STREAM, pending=pending
        )
        if isinstance(started, ObjectRecord):
            return started
        stream = _Stream(started, bucket, request)
        try:
            for planned, item in zip(plan.blobs, pending, strict=True):
                spec = planned.data
                assert isinstance(spec, Streamed)
                writer = await self._sources.open_writer(started, planned, item, spec.mime_type)
                stream.writers.append(writer)
        except BaseException as error:
            for writer in stream.writers:
                await writer.abort()
            await started.fail(error)
            raise
        return stream

    async def _resume(self, namespace: Namespace, session_id: str, bucket: str | None) -> _Stream:
        """The session, taken over, continued where the previous request left it."""
        hold = await self._hold(await self._live_session(namespace, session_id, bucket))
        try:
            record = await self._live_session(namespace, session_id)  # as it was left
            stream = await self._session_stream(namespace, record)
            stream.hold = hold
            assert record.write is not None
            for index, item in enumerate(record.write.pending):
                writer = await self._contents.open_writer(
                    item,
                    mime_type=mime.OCTET_STREAM,
                    progress=_Progress(self._writes, record, index),
                    # this instance's previous append may have left the hash: continue it
                    hashing=self._hashes.take(session_id, index, item.persisted),
                )
                stream.writers.append(writer)
        except BaseException:
            await hold.release()
            raise
        return stream

    async def _hold(self, record: ObjectRecord) -> _Hold:
        hold = _Hold(self._writes, record, length=self._stream_hold, clock=self._clock)
        await hold.take_over()
        return hold

    async def _session_stream(self, namespace: Namespace, record: ObjectRecord) -> _Stream:
        """The session's object planned again from its saved header, its blob ids kept."""
        write = record.write
        assert write is not None and write.header is not None
        header = _header_of(write.header["stream"])
        bucket = await self._buckets.get(namespace, record.bucket_id)
        request = _object_input(bucket, header)
        plan = plan_object(bucket, request, self._objects.limits)
        blob_ids = write.header["blob_ids"]
        plan = dataclasses.replace(
            plan,
            blobs=[
                dataclasses.replace(b, blob_id=i) for b, i in zip(plan.blobs, blob_ids, strict=True)
            ],
        )
        return _Stream(self._drafts.resume(plan, record), bucket, request)

    async def _receive(self, messages: AsyncIterator[Message], stream: _Stream) -> None:
        writers = stream.writers
        async for message in _until_ended(messages, stream.hold):
            if isinstance(message, StreamHeader):
                raise InvalidArgument("only the first message of the stream may be a header")
            if isinstance(message, StreamBlobSpec):
                writers.append(await self._announce(stream, message))
                continue
            index = message.blob_index
            writer = writers[index] if 0 <= index < len(writers) else None
            check_chunk(
                message,
                blobs=len(writers),
                written=writer.size if writer else 0,
                limits=self._limits,
            )
            assert writer is not None
            _check_length(stream, index, writer.size + len(message.data))
            await writer.write(message.data)

    async def _announce(self, stream: _Stream, spec: StreamBlobSpec) -> ContentWriter:
        """A blob announced mid-stream: planned like the header's, recorded, then opened."""
        draft = stream.draft
        if draft.write.kind is WriteKind.SESSION:
            raise InvalidArgument("a session announces all its blobs in its header")
        index = len(draft.plan.blobs)
        check_blob_count(index + 1, self._objects.limits)
        planned = plan_blob(
            index,
            _blob_input(stream.bucket, index, spec),
            stream.bucket,
            stream.request,
            self._objects.limits,
        )
        pending = self._contents.new_pending(draft.namespace_id)
        await draft.announce(planned, pending)
        return await self._sources.open_writer(draft, planned, pending, spec.mime_type)

    async def _finish(self, stream: _Stream) -> None:
        """Every blob received: check sizes and checksums, then commit each one's bytes."""
        draft = stream.draft
        for planned, writer in zip(draft.plan.blobs, stream.writers, strict=True):
            spec = planned.data
            assert isinstance(spec, Streamed)
            written = await writer.finish()
            mime_type = spec.mime_type or mime.sniff(written.head, filename=spec.filename)
            await self._sources.finish_streamed(
                draft, planned, writer, written, mime_type=mime_type, filename=spec.filename
            )
            blob = draft.blob(planned.index)
            if blob and spec.expected_sha256 and blob.sha256 != spec.expected_sha256:
                raise InvalidArgument(
                    f"{planned.where()}: SHA-256 {blob.sha256} != expected_sha256; nothing was kept"
                )


class _Progress:
    """A session's blob: how far its writer got, saved in the write lease."""

    def __init__(self, writes: WriteStore, record: ObjectRecord, index: int) -> None:
        assert record.write is not None
        self._writes, self._index = writes, index
        self._object_id, self._write_id = record.object_id, record.write.write_id

    async def parts(self, parts: list[Part], head: bytes) -> None:
        await self._writes.save_parts(self._object_id, self._write_id, self._index, parts, head)

    async def tail(self, tail: Tail, head: bytes) -> None:
        await self._writes.save_tail(self._object_id, self._write_id, self._index, tail, head)


def _check_length(stream: _Stream, index: int, size: int) -> None:
    """Never more bytes than the blob's announced size (a resumable upload's Upload-Length)."""
    spec = stream.draft.plan.blobs[index].data if index < len(stream.draft.plan.blobs) else None
    if isinstance(spec, Streamed) and spec.expected_size is not None and size > spec.expected_size:
        raise InvalidArgument(
            f"blob {index}: more bytes than its expected_size_bytes ({spec.expected_size}); "
            "the bytes past it were not kept"
        )


async def _check_received(stream: _Stream) -> None:
    """Sizes and checksums of what arrived, before anything is completed."""
    draft = stream.draft
    if not draft.plan.blobs:
        raise InvalidArgument("the stream announced no blob")
    for planned, writer in zip(draft.plan.blobs, stream.writers, strict=True):
        spec = planned.data
        assert isinstance(spec, Streamed)
        check_written(planned.where(), spec, await writer.seen())


def _header_of(raw: dict[str, Any]) -> StreamHeader:
    return StreamHeader(**{**raw, "blobs": [StreamBlobSpec(**b) for b in raw["blobs"]]})
