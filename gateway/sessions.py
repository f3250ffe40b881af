"""Upload sessions as every upload protocol sees them: start, status, append, cancel.

A session is one mechanism (one store, one lease, one expiry, one janitor, behind gRPC's
StartUploadSession, GetUploadSession, UploadObject and CancelUploadSession); a protocol adapter
(gateway/ietf_draft.py) only translates its headers to these calls and their answers back.
Offsets, take-over and tails belong to the session, never to a protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache

from aiohttp import web

from bucketd.chunks import Chunk
from bucketd.codec import MarshalError
from bucketd.gateway import calls as rpc
from bucketd.gateway.calls import Calls, Sent
from bucketd.gateway.inputs import Call
from bucketd.gateway.pace import BodyPace
from bucketd.gateway.routes import Route, route_of
from bucketd.gateway.settings import GatewaySettings
from bucketd.v1 import objects_pb2 as pb


@cache
def _route(full_name: str) -> Route:
    return route_of(full_name)


@dataclass(frozen=True)
class Session:
    """The address of one session: its resource's path variables."""

    bucket: str
    session_id: str

    @classmethod
    def of(cls, request: web.Request) -> Session:
        return cls(request.match_info["bucket_identifier"], request.match_info["session_id"])

    @property
    def location(self) -> str:
        """The session's resource, from its route's template."""
        route = _route(rpc.GET_UPLOAD_SESSION.full_name)
        return route.url(bucket_identifier=self.bucket, session_id=self.session_id)

    def object_location(self, object_id: str) -> str:
        """The object the session made, from GetObject's route."""
        route = _route("bucketd.v1.ObjectService.GetObject")
        return route.url(bucket_identifier=self.bucket, object_identifier=object_id)


async def _append_messages(
    request: web.Request, header: pb.UploadObjectHeader, offset: int, *, settings: GatewaySettings
) -> AsyncIterator[Sent]:
    """The header, then the body from `offset`: a first chunk of no bytes states the offset, so
    that the server checks it (after taking the session over) even for an empty append."""
    yield pb.UploadObjectRequest(header=header)
    yield Chunk(blob_index=0, write_offset=offset, data=b"")
    size = settings.stream_chunk_bytes
    async for data in BodyPace(settings).chunks(lambda: request.content.read(size)):
        yield Chunk(blob_index=0, write_offset=offset, data=data)
        offset += len(data)


class Sessions:
    """The session calls, on behalf of one HTTP request each."""

    def __init__(self, calls: Calls, settings: GatewaySettings) -> None:
        self._calls = calls
        self._settings = settings

    def _call(self, request: web.Request, *, stream: bool = False) -> Call:
        return Call.of(request, self._settings, stream=stream)

    async def start(
        self, request: web.Request, header: pb.UploadObjectHeader
    ) -> tuple[Session, pb.StartUploadSessionResponse]:
        message = pb.StartUploadSessionRequest(header=header)
        started = await self._calls(rpc.START_UPLOAD_SESSION, message, self._call(request))
        return Session(header.bucket_identifier, started.session_id), started

    async def status(
        self, request: web.Request, session: Session, *, take_over: bool = False
    ) -> pb.GetUploadSessionResponse:
        message = pb.GetUploadSessionRequest(
            session_id=session.session_id,
            take_over=take_over,
            bucket_identifier=session.bucket,
        )
        status: pb.GetUploadSessionResponse = await self._calls(
            rpc.GET_UPLOAD_SESSION, message, self._call(request)
        )
        return status

    async def cancel(self, request: web.Request, session: Session) -> None:
        message = pb.CancelUploadSessionRequest(
            session_id=session.session_id, bucket_identifier=session.bucket
        )
        await self._calls(rpc.CANCEL_UPLOAD_SESSION, message, self._call(request))

    async def append(
        self, request: web.Request, session: Session, offset: int, *, complete: bool
    ) -> pb.UploadObjectResponse:
        """The request's body appended at `offset`; `complete` finishes the object."""
        header = pb.UploadObjectHeader(
            session_id=session.session_id,
            leave_open=not complete,
            bucket_identifier=session.bucket,
        )
        failures: list[MarshalError] = []
        messages = _kept(
            _append_messages(request, header, offset, settings=self._settings), failures
        )
        try:
            response: pb.UploadObjectResponse = await self._calls(
                rpc.UPLOAD_OBJECT, messages, self._call(request, stream=True)
            )
        except asyncio.CancelledError:
            if failures:  # the body was cut (too slow), and gRPC cancelled the call for it
                raise failures[0] from None
            raise
        return response


async def _kept(messages: AsyncIterator[Sent], failures: list[MarshalError]) -> AsyncIterator[Sent]:
    """The messages; a refused body is kept, to be answered after the call."""
    try:
        async for message in messages:
            yield message
    except MarshalError as error:
        failures.append(error)
        raise
