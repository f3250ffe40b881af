"""Downloads through ReadObject: each slice's CRC32C checked as it arrives, the whole file's
SHA-256 against the stored one at the end, and a broken stream resumed from the bytes already
written (a new call with read_offset there), so no byte is fetched twice."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import crc32c
from grpc import aio

from bucketd.client.errors import ApiError, InvalidArgument, Unavailable, from_rpc_error
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

Progress = Callable[[int, int | None], None]
RESUMES = 3


class Corrupted(ApiError):
    """Bytes arrived other than they left (a slice's CRC32C or the whole SHA-256 differs)."""


def chosen_blob(
    obj: dict[str, Any], blob: int, *, presigned: bool
) -> tuple[dict[str, Any], str | None]:
    """The details of `obj`'s (JSON) blob number `blob`, and its presigned URL if asked for."""
    blobs = obj["blobs"]
    if not 0 <= blob < len(blobs):
        raise InvalidArgument(f"blob {blob}: the object has {len(blobs)} blob(s)")
    url = blobs[blob].get("presigned_url")
    if presigned and not url:
        raise InvalidArgument(f"blob {blob} of {obj['object_id']} has no stored bytes to download")
    return blobs[blob]["details"], url if presigned else None


def request_of(
    bucket: str, object_id: str, *, blob: int, offset: int, limit: int
) -> pb.ReadObjectRequest:
    return pb.ReadObjectRequest(
        bucket_identifier=bucket,
        object_identifier=object_id,
        blob=str(blob),
        read_offset=offset,
        read_limit=limit,
    )


async def read_into(
    stub: objects_pb2_grpc.ObjectServiceStub,
    request: pb.ReadObjectRequest,
    out: BinaryIO,
    *,
    metadata: tuple[tuple[str, str], ...],
    progress: Progress | None = None,
) -> pb.ReadObjectMetadata:
    """The range `request` names, written to `out`; its metadata (that of the first call)."""
    whole, written, first = hashlib.sha256(), 0, None
    for attempt in range(RESUMES + 1):
        try:
            call = cast(
                AsyncIterable[pb.ReadObjectResponse],
                stub.ReadObject(_resumed(request, first, written), metadata=metadata),
            )
            async for message in call:
                if message.HasField("metadata"):
                    first = _same_blob(first, message.metadata)
                    continue
                data = message.checksummed_data
                if crc32c.crc32c(data.content) != data.crc32c:
                    raise Corrupted(f"a slice at byte {written} arrived corrupted (CRC32C)")
                await asyncio.to_thread(out.write, data.content)
                whole.update(data.content)
                written += len(data.content)
                if progress:
                    progress(written, first.read_length if first else None)
            break
        except aio.AioRpcError as error:
            mapped = from_rpc_error(error)
            if not isinstance(mapped, Unavailable) or first is None or attempt == RESUMES:
                raise mapped from None
    assert first is not None
    _check(first, written, whole.hexdigest())
    served: pb.ReadObjectMetadata = first
    return served


def _resumed(
    request: pb.ReadObjectRequest, first: pb.ReadObjectMetadata | None, written: int
) -> pb.ReadObjectRequest:
    """`request`, or once bytes were written, its rest: from the byte after the last one."""
    resumed = pb.ReadObjectRequest()
    resumed.CopyFrom(request)
    if first is not None:
        resumed.read_offset, resumed.read_limit = first.read_offset + written, 0
        if request.read_limit:
            resumed.read_limit = first.read_length - written
    return resumed


def _same_blob(
    first: pb.ReadObjectMetadata | None, now: pb.ReadObjectMetadata
) -> pb.ReadObjectMetadata:
    """The first call's metadata; a resumed call must serve the same blob (a blob replaced
    between the cut and the resume would join two versions' bytes)."""
    if first is None:
        return now
    if (now.details.hash, now.details.size_bytes) != (first.details.hash, first.details.size_bytes):
        raise Corrupted(
            f"the blob changed while it was read (now {now.details.hash or 'no hash'}, "
            f"{now.details.size_bytes} bytes): read it again from the start"
        )
    return first


def _check(first: pb.ReadObjectMetadata, written: int, digest: str) -> None:
    if written != first.read_length:
        raise Corrupted(f"{written} bytes arrived of the {first.read_length} served")
    whole_blob = first.read_offset == 0 and first.read_length == first.details.size_bytes
    if whole_blob and first.details.hash and first.details.hash != f"sha256:{digest}":
        raise Corrupted(f"the file's SHA-256 is {digest}, not the stored {first.details.hash}")


async def download_to(
    stub: objects_pb2_grpc.ObjectServiceStub,
    request: pb.ReadObjectRequest,
    destination: Path,
    *,
    metadata: tuple[tuple[str, str], ...],
    progress: Progress | None = None,
) -> Path:
    """`destination` written through a `.part` file renamed into place (a failure leaves
    nothing)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with partial.open("wb") as out:
            await read_into(stub, request, out, metadata=metadata, progress=progress)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


async def target_path(destination: str | Path, stored_name: str) -> Path:
    """`destination`, or the stored name inside it when it is a directory (one that exists, or
    a path ending in "/"); never a path the stored name would climb out of."""
    target = Path(destination)
    if await asyncio.to_thread(target.is_dir) or str(destination).endswith(("/", os.sep)):
        return target / Path(stored_name).name
    return target
