"""Reading a blob's bytes back (ReadObject): which blob, which range, and the slices from
storage. Nothing is hashed here: the stored SHA-256 is answered as it is, and each slice's
CRC32C is the API's business."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from bucketd.server.domain.byte_range import ByteRange, served
from bucketd.server.domain.models import Blob, ObjectRecord
from bucketd.server.errors import FailedPrecondition, NotFound
from bucketd.server.services.ports import BlobStorage

# A ReadObject message's slice: large enough that per-message costs vanish, well under gRPC's
# default 4 MiB message limit.
SLICE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class BlobRead:
    """A read in progress: the blob, the range served, and its bytes (to be read once)."""

    blob: Blob
    range: ByteRange
    slices: AsyncGenerator[bytes]


def pick_blob(record: ObjectRecord, which: str) -> Blob:
    """The object's blob named by its index ("0") or its property ("image")."""
    if which.isdigit() and int(which) < len(record.blobs):
        return record.blobs[int(which)]
    for blob in record.blobs:
        if blob.property == which:
            return blob
    raise NotFound(
        f"blob '{which}' not found in object '{record.object_id}': name a blob by its index "
        f"(0 to {len(record.blobs) - 1}) or its property",
        details={"resource": "blob", "id": which, "field": "blob"},
    )


async def _nothing() -> AsyncGenerator[bytes]:
    return
    yield  # an async generator that yields nothing


def open_read(
    record: ObjectRecord,
    which: str,
    *,
    read_offset: int,
    read_limit: int,
    storage: BlobStorage,
) -> BlobRead:
    """The read of `which` blob of `record`; its bytes are read from storage as they are
    consumed (an empty range never touches storage)."""
    blob = pick_blob(record, which)
    if blob.storage_key is None or blob.size_bytes is None:
        raise FailedPrecondition(
            f"blob '{which}' of object '{record.object_id}' holds no stored bytes: it references "
            f"{blob.url} as it is (created without mirroring); read it from there",
            details={"field": "blob"},
        )
    wanted = served(blob.size_bytes, read_offset=read_offset, read_limit=read_limit)
    slices = (
        storage.read_range(
            blob.storage_key, offset=wanted.offset, length=wanted.length, slice_bytes=SLICE_BYTES
        )
        if wanted.length
        else _nothing()
    )
    return BlobRead(blob, wanted, slices)
