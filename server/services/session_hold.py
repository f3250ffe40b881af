"""A session held by one stream at a time (resumable uploads' concurrency rule)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import ObjectRecord
from bucketd.server.domain.streams import StreamBlobSpec, StreamChunk, StreamHeader
from bucketd.server.domain.writes import Hold
from bucketd.server.errors import Aborted, BucketdError, NotFound
from bucketd.server.services.ports import WriteStore

Clock = Callable[[], datetime]
Message = StreamHeader | StreamChunk | StreamBlobSpec


def session_not_found(session_id: str) -> NotFound:
    return NotFound(
        f"Upload session '{session_id}' not found or expired",
        details={"resource": "upload_session", "id": session_id},
    )


class SessionHold:
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


async def until_ended(
    messages: AsyncIterator[Message], hold: SessionHold | None
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
