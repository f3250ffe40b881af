"""Streamed uploads (ObjectService.UploadObject): the header plans the object and its record is
written first; each blob's bytes then flow into a multipart upload at its final key, hashed on
the way; the half-close checks sizes and checksums, and the stream's finish hands each blob's
stored value (services/blob_sources.py) to the draft and commits the object.

Without a session, any failure, cancel, deadline or shutdown aborts the stream's multipart
uploads and leaves the object FAILED. A stream naming a session (services/upload_sessions.py)
continues it; one that leaves the session open (HTTP resumable uploads append this way)
finishes nothing; like a broken one, it keeps every byte it received: whole parts in the
multipart upload, the rest as the session's tail (domain/writes.Tail).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import Streamed
from bucketd.server.domain.models import Namespace, ObjectRecord
from bucketd.server.domain.object_plan import Limits
from bucketd.server.domain.streams import (
    StreamBlobSpec,
    StreamChunk,
    StreamHeader,
    StreamLimits,
    check_chunk,
)
from bucketd.server.domain.writes import WriteKind
from bucketd.server.errors import BucketdError, InvalidArgument
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.content_writer import PART_BYTES, ContentWriter
from bucketd.server.services.contents import Contents
from bucketd.server.services.drafts import Drafts
from bucketd.server.services.ports import WriteStore
from bucketd.server.services.session_hold import Message, until_ended
from bucketd.server.services.stream_plan import (
    Stream,
    StreamPlanner,
    check_length,
    check_received,
)
from bucketd.server.services.upload_sessions import SessionStatus, UploadSessions

Clock = Callable[[], datetime]
__all__ = ["Message", "SessionStatus", "StreamUploads"]


class StreamUploads:
    def __init__(
        self,
        *,
        object_limits: Limits,
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
        self._planner = StreamPlanner(buckets=buckets, limits=limits, object_limits=object_limits)
        self._drafts = drafts
        self._contents = contents
        self._sources = sources
        self._sessions = UploadSessions(
            planner=self._planner,
            buckets=buckets,
            drafts=drafts,
            contents=contents,
            sources=sources,
            writes=writes,
            ttl=session_ttl,
            hold=stream_hold,
            clock=clock,
        )

    @property
    def part_bytes(self) -> int:
        """S3 receives the session's bytes in parts of this size."""
        return PART_BYTES

    @property
    def max_blob_bytes(self) -> int:
        return self._planner.limits.max_blob_bytes

    @property
    def max_chunk_bytes(self) -> int:
        return self._planner.limits.max_chunk_bytes

    async def start_session(
        self, namespace: Namespace, header: StreamHeader
    ) -> tuple[str, datetime, str]:
        return await self._sessions.start(namespace, header)

    async def holder_of_url(self, session_id: str, secret: str) -> tuple[str, str]:
        return await self._sessions.holder_of_url(session_id, secret)

    async def session_status(
        self,
        namespace: Namespace,
        session_id: str,
        *,
        take_over: bool = False,
        bucket: str | None = None,
    ) -> SessionStatus:
        return await self._sessions.status(
            namespace, session_id, take_over=take_over, bucket=bucket
        )

    async def cancel_session(
        self, namespace: Namespace, session_id: str, *, bucket: str | None = None
    ) -> None:
        await self._sessions.cancel(namespace, session_id, bucket=bucket)

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
                    if received > self._planner.limits.max_blob_bytes:
                        return

    async def _upload(self, namespace: Namespace, messages: AsyncIterator[Message]) -> ObjectRecord:
        first = await anext(messages, None)
        if not isinstance(first, StreamHeader):
            raise InvalidArgument("the first message of an UploadObject stream must be the header")
        if first.leave_open and not first.session_id:
            raise InvalidArgument("header.leave_open: only a stream that names a session_id")
        if first.session_id:
            bucket = first.bucket_identifier or None
            stream = await self._sessions.resume(namespace, first.session_id, bucket)
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
        self, stream: Stream, messages: AsyncIterator[Message], *, leave_open: bool
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
                            self._sessions.hashes.keep(draft.write.write_id, index, *state)
                    return draft.record
                await check_received(stream)  # a session keeps its parts if this fails
            except BaseException:
                for writer in stream.writers:
                    await (writer.stop() if session else writer.abort())
                raise
            draft.keep_on_error = False
            await self._finish(stream)
            return await draft.commit()

    async def _start(self, namespace: Namespace, header: StreamHeader) -> Stream | ObjectRecord:
        bucket, request, plan = await self._planner.plan(namespace, header)
        pending = [self._contents.new_pending(namespace.namespace_id) for _ in plan.blobs]
        started = await self._drafts.begin(
            namespace, bucket, plan, kind=WriteKind.STREAM, pending=pending
        )
        if isinstance(started, ObjectRecord):
            return started
        stream = Stream(started, bucket, request)
        try:
            for planned, item in zip(plan.blobs, pending, strict=True):
                spec = planned.data
                assert isinstance(spec, Streamed)
                writer = await self._sources.open_writer(
                    started.target, planned, item, spec.mime_type
                )
                stream.writers.append(writer)
        except BaseException as error:
            for writer in stream.writers:
                await writer.abort()
            await started.fail(error)
            raise
        return stream

    async def _receive(self, messages: AsyncIterator[Message], stream: Stream) -> None:
        writers = stream.writers
        async for message in until_ended(messages, stream.hold):
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
                limits=self._planner.limits,
            )
            assert writer is not None
            check_length(stream, index, writer.size + len(message.data))
            await writer.write(message.data)

    async def _announce(self, stream: Stream, spec: StreamBlobSpec) -> ContentWriter:
        """A blob announced mid-stream: planned like the header's, recorded, then opened."""
        draft = stream.draft
        if draft.write.kind is WriteKind.SESSION:
            raise InvalidArgument("a session announces all its blobs in its header")
        planned = self._planner.announced(stream, spec)
        pending = self._contents.new_pending(draft.namespace_id)
        await draft.announce(planned, pending)
        return await self._sources.open_writer(draft.target, planned, pending, spec.mime_type)

    async def _finish(self, stream: Stream) -> None:
        """Every blob received: each one's bytes checked and committed, and held by the draft."""
        draft = stream.draft
        target = draft.target
        for planned, writer in zip(draft.plan.blobs, stream.writers, strict=True):
            spec = planned.data
            assert isinstance(spec, Streamed)
            written = await writer.finish()
            mime_type = spec.mime_type or mime.sniff(written.head, filename=spec.filename)
            stored = await self._sources.finish_streamed(
                target, planned, writer, written, mime_type=mime_type, filename=spec.filename
            )
            draft.hold(planned, stored)
