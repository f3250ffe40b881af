"""Upload sessions as every upload protocol sees them: start, status, append, cancel.

A session is one mechanism (one store, one lease, one expiry, one janitor, behind gRPC's
StartUploadSession, GetUploadSession, UploadObject and CancelUploadSession); a protocol adapter
(gateway/ietf_draft.py) only translates its headers to these calls and their answers back.
Offsets, take-over and tails belong to the session, never to a protocol.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from bucketd.gateway.routes import SECRET_SEPARATOR, SESSION_VARIABLE, Route, route_of
from bucketd.gateway.settings import GatewaySettings
from bucketd.v1 import objects_pb2 as pb

# The metadata an upload URL's call carries instead of a key (server/api/auth.py reads it).
UPLOAD_SESSION_HEADER = "x-upload-session"
UPLOAD_SECRET_HEADER = "x-upload-secret"


@cache
def _route(full_name: str) -> Route:
    return route_of(full_name)


@dataclass(frozen=True)
class Session:
    """The address of one session: its resource's path variables. Its URL carries the secret
    that makes it a capability (`ses_….<secret>`): HEAD, PATCH and DELETE on it need no key."""

    bucket: str
    session_id: str
    secret: str = ""

    @classmethod
    def of(cls, request: web.Request) -> Session:
        session_id, _, secret = request.match_info[SESSION_VARIABLE].partition(SECRET_SEPARATOR)
        return cls(request.match_info["bucket_identifier"], session_id, secret)

    @property
    def location(self) -> str:
        """The session's resource (its upload URL), from its route's template."""
        route = _route(rpc.GET_UPLOAD_SESSION.full_name)
        variable = f"{self.session_id}{SECRET_SEPARATOR}{self.secret}" if self.secret else ""
        return route.url(bucket_identifier=self.bucket, session_id=variable or self.session_id)

    def call(self, request: web.Request, call: Call) -> Call:
        """Without a key, the upload URL's secret stands in for one (server/api/auth.py): a
        wrong or missing one finds no session."""
        if "Authorization" in request.headers:
            return call
        held = ((UPLOAD_SESSION_HEADER, self.session_id), (UPLOAD_SECRET_HEADER, self.secret))
        return dataclasses.replace(call, metadata=(*call.metadata, *held))

    def object_location(self, object_id: str) -> str:
        """The object the session made, from GetObject's route."""
        route = _route("bucketd.v1.ObjectService.GetObject")
        return route.url(bucket_identifier=self.bucket, object_identifier=object_id)


async def _append_messages(
    body: AsyncIterator[bytes], header: pb.UploadObjectHeader, offset: int
) -> AsyncIterator[Sent]:
    """The header, then the body from `offset`: a first chunk of no bytes states the offset, so
    that the server checks it (after taking the session over) even for an empty append."""
    yield pb.UploadObjectRequest(header=header)
    yield Chunk(blob_index=0, write_offset=offset, data=b"")
    async for data in body:
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
        session = Session(header.bucket_identifier, started.session_id, started.upload_secret)
        return session, started

    async def status(
        self, request: web.Request, session: Session, *, take_over: bool = False
    ) -> pb.GetUploadSessionResponse:
        message = pb.GetUploadSessionRequest(
            session_id=session.session_id,
            take_over=take_over,
            bucket_identifier=session.bucket,
        )
        status: pb.GetUploadSessionResponse = await self._calls(
            rpc.GET_UPLOAD_SESSION, message, session.call(request, self._call(request))
        )
        return status

    async def cancel(self, request: web.Request, session: Session) -> None:
        message = pb.CancelUploadSessionRequest(
            session_id=session.session_id, bucket_identifier=session.bucket
        )
        await self._calls(
            rpc.CANCEL_UPLOAD_SESSION, message, session.call(request, self._call(request))
        )

    def body(self, request: web.Request) -> AsyncIterator[bytes]:
        """The request's body as it arrives, in chunks, paced (a body too slow is cut)."""
        size = self._settings.stream_chunk_bytes
        return BodyPace(self._settings).chunks(lambda: request.content.read(size))

    async def append(
        self,
        request: web.Request,
        session: Session,
        offset: int,
        *,
        complete: bool,
        body: AsyncIterator[bytes] | None = None,
    ) -> pb.UploadObjectResponse:
        """The request's body (or `body`, read from it already) appended at `offset`;
        `complete` finishes the object."""
        header = pb.UploadObjectHeader(
            session_id=session.session_id,
            leave_open=not complete,
            bucket_identifier=session.bucket,
        )
        if body is None:
            body = self.body(request)
        failures: list[MarshalError] = []
        messages = _kept(_append_messages(body, header, offset), failures)
        try:
            response: pb.UploadObjectResponse = await self._calls(
                rpc.UPLOAD_OBJECT, messages, session.call(request, self._call(request, stream=True))
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
