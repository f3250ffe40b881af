"""Validating a CreateObject request against its bucket, before anything is written.

Every refusal names the blob index and the field, so that a bad request loses nothing.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from bucketd.server.domain import key_prefix as prefixes
from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import (
    BlobData,
    InlineBytes,
    StoredContent,
    UploadRef,
    parse_blob_data,
)
from bucketd.server.domain.models import Bucket
from bucketd.server.errors import InvalidArgument, PayloadTooLarge

_UPLOAD_ID = re.compile(r"^upl_[a-zA-Z0-9_-]+$")


@dataclass(frozen=True, kw_only=True)
class BlobInput:
    """A blob as the API received it; `data` is the JSON value (None when not given)."""

    property: str
    type: str | None
    key_prefix: str | None = None
    data: Any = None
    upload_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    canonicalize_source: bool | None = None
    force_remirror: bool | None = None
    content: StoredContent | None = None  # bytes streamed and stored already


@dataclass(frozen=True, kw_only=True)
class ObjectInput:
    key_prefix: str | None = None
    blobs: list[BlobInput] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    user_fields: dict[str, Any] | None = None
    skip_duplicates: bool = False
    canonicalize_source: bool = True
    force_remirror: bool = False
    idempotency_key: str | None = None
    policy: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlannedBlob:
    index: int
    property: str
    type: str
    key_prefix: str | None
    data: BlobData
    metadata: dict[str, Any]
    canonicalize: bool
    force: bool


@dataclass(frozen=True, kw_only=True)
class ObjectPlan:
    key_prefix: str | None
    blobs: list[PlannedBlob]
    metadata: dict[str, Any]
    metadata_layout: str


@dataclass(frozen=True)
class Limits:
    max_inline_bytes: int
    max_blobs: int


def _plan_blob(
    index: int, blob: BlobInput, bucket: Bucket, request: ObjectInput, limits: Limits
) -> PlannedBlob:
    where = f"blobs[{index}]"
    kind = bucket.bucket_schema.property(blob.property, where=f"{where}.property").type
    if blob.type is None:
        raise InvalidArgument(f"{where}.type is required", details={"field": f"{where}.type"})
    if blob.type != kind:
        raise InvalidArgument(
            f"{where}.type: {blob.type!r} does not match the schema type {kind!r} of "
            f"{blob.property!r}",
            details={"field": f"{where}.type"},
        )
    data: BlobData
    if blob.content is not None:
        mime.check_fits(f"{where}.mime_type", kind, blob.content.mime_type)
        data = blob.content
    elif blob.upload_id is not None:
        if blob.data is not None:
            raise InvalidArgument(
                f"{where}: give either data or upload_id, not both",
                details={"field": where},
            )
        if not _UPLOAD_ID.match(blob.upload_id):
            raise InvalidArgument(
                f"{where}.upload_id: {blob.upload_id!r} is not an upload id (upl_...)",
                details={"field": f"{where}.upload_id"},
            )
        data = UploadRef(blob.upload_id)
    elif blob.data is None:
        raise InvalidArgument(f"{where}: give data or upload_id", details={"field": where})
    else:
        data = parse_blob_data(
            f"{where}.data", blob.data, kind=kind, inline_limit=limits.max_inline_bytes
        )
    if isinstance(data, InlineBytes):  # known now: refuse a mismatch before anything is written
        sniffed = data.mime_type or mime.sniff(data.content, filename=data.filename)
        mime.check_fits(f"{where}.data", kind, sniffed)
        data = dataclasses.replace(data, mime_type=sniffed)
    return PlannedBlob(
        index=index,
        property=blob.property,
        type=kind,
        key_prefix=prefixes.normalize(blob.key_prefix, field=f"{where}.key_prefix"),
        data=data,
        metadata=blob.metadata,
        canonicalize=(
            request.canonicalize_source
            if blob.canonicalize_source is None
            else blob.canonicalize_source
        ),
        force=request.force_remirror if blob.force_remirror is None else blob.force_remirror,
    )


def plan_object(bucket: Bucket, request: ObjectInput, limits: Limits) -> ObjectPlan:
    """The validated object, or the first problem as InvalidArgument / PayloadTooLarge."""
    if len(request.blobs) > limits.max_blobs:
        raise PayloadTooLarge(
            f"blobs: at most {limits.max_blobs} blobs per object, got {len(request.blobs)}",
            details={"field": "blobs", "limit": str(limits.max_blobs)},
        )
    layout = "flat" if request.metadata is None and request.user_fields else "nested"
    metadata = {**(request.user_fields or {}), **(request.metadata or {})}
    return ObjectPlan(
        key_prefix=prefixes.normalize(request.key_prefix),
        blobs=[
            _plan_blob(index, blob, bucket, request, limits)
            for index, blob in enumerate(request.blobs)
        ],
        metadata=metadata,
        metadata_layout=layout,
    )
