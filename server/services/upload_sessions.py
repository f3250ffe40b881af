"""Upload sessions (StartUploadSession): a stream's write whose lease is its expiry. Its
uploaded parts survive a broken stream, GetUploadSession says how far each blob got, and a new
stream naming the session takes it over (the stream still writing it ends) and continues from
there; a cancel ends it and leaves its object FAILED."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from bucketd.server.domain import mime, upload_urls
from bucketd.server.domain.blob_data import Streamed
from bucketd.server.domain.models import Namespace, ObjectRecord
from bucketd.server.domain.streams import SessionHeader, StreamHeader
from bucketd.server.domain.writes import SESSION_PREFIX, Part, Tail, WriteKind
from bucketd.server.errors import FailedPrecondition, InvalidArgument, NotFound
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.content_writer import ContentWriter
from bucketd.server.services.contents import Contents
from bucketd.server.services.drafts import Drafts
from bucketd.server.services.part_hashing import SessionHashes
from bucketd.server.services.ports import WriteStore
from bucketd.server.services.session_hold import SessionHold, session_not_found
from bucketd.server.services.stream_plan import Stream, StreamPlanner

Clock = Callable[[], datetime]


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


class UploadSessions:
    def __init__(
        self,
        *,
        planner: StreamPlanner,
        buckets: BucketService,
        drafts: Drafts,
        contents: Contents,
        sources: BlobSources,
        writes: WriteStore,
        ttl: timedelta,
        hold: timedelta,
        clock: Clock,
    ) -> None:
        self._planner = planner
        self._buckets = buckets
        self._drafts = drafts
        self._contents = contents
        self._sources = sources
        self._writes = writes
        self._ttl = ttl
        self._hold_length = hold
        self._clock = clock
        # an append's hash, for this instance's next append to continue
        self.hashes = SessionHashes()

    async def start(self, namespace: Namespace, header: StreamHeader) -> tuple[str, datetime, str]:
        """The session's id, expiry and upload URL secret (given once, kept hashed)."""
        bucket, _, plan = await self._planner.plan(namespace, header)
        if not plan.blobs:
            raise InvalidArgument("header.blobs: a session announces its blobs in the header")
        pending = [self._contents.new_pending(namespace.namespace_id) for _ in plan.blobs]
        secret = upload_urls.new_secret()
        saved = SessionHeader(
            stream=header,
            blob_ids=[b.blob_id for b in plan.blobs],
            secret_hash=upload_urls.secret_hash(secret),
            organization_id=namespace.organization_id,
        )
        started = await self._drafts.begin(
            namespace,
            bucket,
            plan,
            kind=WriteKind.SESSION,
            pending=pending,
            lease=self._ttl,
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
                await self._sources.open_writer(started.target, planned, item, spec.mime_type)
        except BaseException as error:
            await started.fail(error)
            raise
        return started.write.write_id, started.write.lease_until, secret

    async def holder_of_url(self, session_id: str, secret: str) -> tuple[str, str]:
        """The organization and namespace of the live session whose upload URL carries
        `secret`; a wrong secret is exactly a missing session."""
        record = await self._writes.by_session(session_id)
        write = record.write if record else None
        header = write.header if write else None
        if (
            record is None
            or write is None
            or header is None
            or write.expired(self._clock())
            or not upload_urls.secret_matches(secret, header.secret_hash)
        ):
            raise session_not_found(session_id)
        return header.organization_id, record.namespace_id

    async def _live(
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

    async def status(
        self, namespace: Namespace, session_id: str, *, take_over: bool, bucket: str | None
    ) -> SessionStatus:
        """A live session's progress, or the object a finished one made. Taking it over first
        ends the request writing it, so the offset answered cannot move under the caller."""
        try:
            record = await self._live(namespace, session_id, bucket)
            if take_over:
                await (await self._hold(record)).release()
                record = await self._live(namespace, session_id)
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
        announced = write.header.stream.blobs
        blobs = [
            SessionBlob(item.persisted, spec.expected_size)
            for item, spec in zip(write.pending, announced, strict=True)
        ]
        return SessionStatus(blobs, write.lease_until)

    async def cancel(self, namespace: Namespace, session_id: str, *, bucket: str | None) -> None:
        """End the stream writing the session, if any, and abort its multipart uploads; its
        object ends FAILED."""
        record = await self._live(namespace, session_id, bucket)
        hold = await self._hold(record)  # never under a stream still writing its parts
        try:
            stream = await self._stream(namespace, record)
            await stream.draft.fail(
                InvalidArgument("the upload session was cancelled by its client")
            )
        finally:
            await hold.release()

    async def resume(self, namespace: Namespace, session_id: str, bucket: str | None) -> Stream:
        """The session, taken over, continued where the previous request left it."""
        hold = await self._hold(await self._live(namespace, session_id, bucket))
        try:
            record = await self._live(namespace, session_id)  # as it was left
            stream = await self._stream(namespace, record)
            stream.hold = hold
            assert record.write is not None
            for index in range(len(record.write.pending)):
                stream.writers.append(await self._writer(record, index))
        except BaseException:
            await hold.release()
            raise
        return stream

    async def _writer(self, record: ObjectRecord, index: int) -> ContentWriter:
        """Blob `index`'s writer, continuing its multipart upload."""
        assert record.write is not None
        item = record.write.pending[index]
        return await self._contents.open_writer(
            item,
            mime_type=mime.OCTET_STREAM,
            progress=_Progress(self._writes, record, index),
            # this instance's previous append may have left the hash: continue it
            hashing=self.hashes.take(record.write.write_id, index, item.persisted),
        )

    async def _hold(self, record: ObjectRecord) -> SessionHold:
        hold = SessionHold(self._writes, record, length=self._hold_length, clock=self._clock)
        await hold.take_over()
        return hold

    async def _stream(self, namespace: Namespace, record: ObjectRecord) -> Stream:
        bucket, request, plan = await self._planner.replan(namespace, record)
        return Stream(self._drafts.resume(plan, record), bucket, request)


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
