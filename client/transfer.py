"""Moving bytes: a file streamed over UploadObject through a resumable session, a stream in one
call, a download through a presigned URL — with progress reported to a callback.

A file upload opens an upload session, then streams the file from the session's persisted
offset; when the connection breaks (UNAVAILABLE), it asks the session where to continue (every byte
that arrived survives) and streams again from there, with backoff, up to the retry policy's
attempts. The SHA-256 is computed while reading and checked against the stored blob's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import aiohttp
from grpc import aio

from bucketd.client import reach
from bucketd.client.errors import (
    Aborted,
    ApiError,
    InvalidArgument,
    NotFound,
    Unavailable,
    from_rpc_error,
)
from bucketd.codec import FILE_TYPES, parse_request, to_json
from bucketd.v1 import objects_pb2 as pb

if TYPE_CHECKING:
    from bucketd.client.async_client import AsyncClient

__all__ = ["FILE_TYPES", "FileUpload", "Progress", "StreamUpload"]

# Bytes per message; a session's limits may ask for less (BUCKETD_MAX_STREAM_CHUNK_BYTES).
CHUNK_BYTES = 2 * 1024 * 1024
Progress = Callable[[int, int | None], None]
"""Called with (bytes sent or received so far, total bytes when known); it may go back after a
resumption, to the offset bucketd kept."""


@dataclass(frozen=True)
class StreamUpload:
    bucket: str
    property: str
    type: str | None = None
    filename: str | None = None
    metadata: dict[str, Any] | None = None
    key_prefix: str | None = None
    mime_type: str | None = None

    def header(self, size: int | None) -> pb.UploadObjectHeader:
        blob: dict[str, Any] = {
            "property": self.property,
            "type": self.type,
            "filename": self.filename,
            "mime_type": self.mime_type or _guess_type(self.filename),
            "expected_size_bytes": size,
        }
        header = parse_request(
            pb.UploadObjectHeader,
            {
                "bucket_identifier": self.bucket,
                "key_prefix": self.key_prefix,
                "metadata": self.metadata,
                "blobs": [{k: v for k, v in blob.items() if v is not None}],
            },
            complete=False,
        )
        return header


@dataclass(frozen=True)
class FileUpload(StreamUpload):
    path: Path = Path()

    def __post_init__(self) -> None:
        if self.filename is None:
            object.__setattr__(self, "filename", self.path.name)

    def state_name(self, client: AsyncClient) -> str:
        """Where a crashed upload of this file to this place is remembered."""
        stat = self.path.stat()
        identity = json.dumps(
            [  # not the address: one service may be reached by several
                client.settings.namespace,
                self.bucket,
                str(self.path.resolve()),
                stat.st_size,
                stat.st_mtime_ns,
                self.property,
                self.key_prefix,
            ]
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:32] + ".json"


def _guess_type(filename: str | None) -> str | None:
    return mimetypes.guess_type(filename)[0] if filename else None


def _chunk(offset: int, data: bytes) -> pb.UploadObjectRequest:
    return pb.UploadObjectRequest(chunk=pb.BlobChunk(blob_index=0, write_offset=offset, data=data))


class _Session:
    """The upload session of one file, remembered in `state` (when given) until it is done."""

    def __init__(self, client: AsyncClient, state: Path | None) -> None:
        self._client = client
        self._state = state
        self.session_id = ""
        self.chunk_bytes = CHUNK_BYTES

    def _fit(self, limits: pb.UploadSessionLimits) -> None:
        """Send no chunk larger than the server takes."""
        if limits.max_chunk_bytes:
            self.chunk_bytes = min(CHUNK_BYTES, limits.max_chunk_bytes)

    async def open(self, header: pb.UploadObjectHeader) -> tuple[int, str]:
        """Where to stream from: a remembered session's persisted bytes (or the object it made
        already, when it finished but its answer was lost), or a new session's 0."""
        remembered = self._remembered()
        if remembered:
            self.session_id = remembered
            try:
                return await self.where()
            except NotFound:
                pass  # expired or cancelled: start over
        started = await self._client.call(
            self._client.stubs.objects.StartUploadSession,
            pb.StartUploadSessionRequest(header=header),
        )
        self.session_id = started.session_id
        self._fit(started.limits)
        if self._state is not None:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            self._state.write_text(json.dumps({"session_id": self.session_id}))
        return 0, ""

    async def where(self) -> tuple[int, str]:
        """The persisted offset, and the id of the object made if the session finished; a
        stream of ours the server still thinks alive is ended first, so the offset holds."""
        status = await self._client.call(
            self._client.stubs.objects.GetUploadSession,
            pb.GetUploadSessionRequest(session_id=self.session_id, take_over=True),
        )
        self._fit(status.limits)
        return int(status.persisted_sizes[0]), status.object_id if status.complete else ""

    def forget(self) -> None:
        if self._state is not None:
            self._state.unlink(missing_ok=True)

    def _remembered(self) -> str:
        if self._state is None or not self._state.exists():
            return ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return str(json.loads(self._state.read_text())["session_id"])
        return ""


def _hash_prefix(file: BinaryIO, offset: int) -> Any:
    """The SHA-256 state of the file's first `offset` bytes (a resumed stream skips them)."""
    hasher = hashlib.sha256()
    file.seek(0)
    remaining = offset
    while remaining:
        data = file.read(min(CHUNK_BYTES, remaining))
        if not data:
            raise InvalidArgument("the file got shorter while it was being uploaded")
        hasher.update(data)
        remaining -= len(data)
    return hasher


async def upload_file(
    client: AsyncClient, spec: FileUpload, *, progress: Progress | None, resume_dir: Path | None
) -> dict[str, Any]:
    size = spec.path.stat().st_size  # a missing file is the caller's OSError
    session = _Session(client, resume_dir / spec.state_name(client) if resume_dir else None)
    offset, made = await session.open(spec.header(size))
    with spec.path.open("rb") as file:
        for attempt in range(1, client.retry.attempts + 1):
            hasher = _hash_prefix(file, size if made else offset)
            if made:  # finished before: answer that object instead of uploading again
                obj = await client.get_object(spec.bucket, made)
                session.forget()
                _check_hash(obj, hasher.hexdigest(), spec.path)
                return obj
            if progress:
                progress(offset, size)
            messages = _file_messages(
                session.session_id,
                file,
                offset,
                hasher,
                size=size,
                progress=progress,
                chunk_bytes=session.chunk_bytes,
            )
            try:
                obj = await _stream(client, messages)
            except (Unavailable, Aborted):  # cut off, or the cut stream still lets go
                if attempt == client.retry.attempts:
                    raise
                await asyncio.sleep(client.retry.delay(attempt))
                offset, made = await session.where()
                continue
            except ApiError:
                session.forget()
                raise
            session.forget()
            _check_hash(obj, hasher.hexdigest(), spec.path)
            return obj
    raise AssertionError("unreachable")


async def _file_messages(
    session_id: str,
    file: BinaryIO,
    offset: int,
    hasher: Any,
    *,
    size: int,
    progress: Progress | None,
    chunk_bytes: int,
) -> AsyncIterator[pb.UploadObjectRequest]:
    yield pb.UploadObjectRequest(header=pb.UploadObjectHeader(session_id=session_id))
    file.seek(offset)

    def read_and_hash() -> bytes:  # off the event loop: hashlib lets go of the GIL
        data = file.read(chunk_bytes)
        hasher.update(data)
        return data

    while data := await asyncio.to_thread(read_and_hash):
        yield _chunk(offset, data)
        offset += len(data)
        if progress:
            progress(offset, size)


def _check_hash(obj: dict[str, Any], sha256: str, path: Path) -> None:
    stored = obj["blobs"][0]["details"]["hash"]
    if stored != f"sha256:{sha256}":
        raise ApiError(
            f"{path}: bucketd stored {stored}, but the file read as sha256:{sha256} "
            "(did it change during the upload?)"
        )


async def _stream(
    client: AsyncClient, messages: AsyncIterator[pb.UploadObjectRequest]
) -> dict[str, Any]:
    try:
        reply = await client.stubs.objects.UploadObject(messages, metadata=client.metadata())
    except aio.AioRpcError as error:
        raise await reach.explained(from_rpc_error(error), client.settings) from None
    return to_json(reply.object)


async def upload_stream(
    client: AsyncClient,
    spec: StreamUpload,
    data: AsyncIterable[bytes] | BinaryIO,
    *,
    progress: Progress | None,
) -> dict[str, Any]:
    header = spec.header(None)
    header.idempotency_key = os.urandom(16).hex()

    async def messages() -> AsyncIterator[pb.UploadObjectRequest]:
        yield pb.UploadObjectRequest(header=header)
        offset = 0
        async for block in _blocks(data):
            for start in range(0, len(block), CHUNK_BYTES):
                piece = block[start : start + CHUNK_BYTES]
                yield _chunk(offset, piece)
                offset += len(piece)
                if progress:
                    progress(offset, None)

    return await _stream(client, messages())


async def _blocks(data: AsyncIterable[bytes] | BinaryIO) -> AsyncIterator[bytes]:
    if isinstance(data, AsyncIterable):
        async for block in data:
            yield block
        return
    while block := await asyncio.to_thread(data.read, CHUNK_BYTES):
        yield block


async def download(
    url: str, destination: Path, *, size: int | None, progress: Progress | None
) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    received = 0
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as reply:
            if reply.status != 200:
                raise ApiError(f"download failed: the storage answered {reply.status}")
            with partial.open("wb") as out:
                async for block in reply.content.iter_chunked(CHUNK_BYTES):
                    await asyncio.to_thread(out.write, block)
                    received += len(block)
                    if progress:
                        progress(received, size)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)  # a failed get leaves nothing behind
    return destination
