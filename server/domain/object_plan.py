"""Validating an object against its bucket, once, before anything is written.

Every entry point (CreateObject's JSON, an UploadObject header, a presigned confirm) describes
its blobs as BlobInputs; the plan checks them against the schema and gives each the id it will
have, so that a write can name its holder references before its first byte. Every refusal names
the blob index and the field, so that a bad request loses nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from bucketd.server.domain import key_prefix as prefixes
from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import (
    BlobData,
    InlineBytes,
    JsonValue,
    S3Location,
    Streamed,
    UploadedFile,
    UploadRef,
    parse_blob_data,
    unreadable_source,
)
from bucketd.server.domain.checksums import check_sha256, parse_checksum
from bucketd.server.domain.contents import holder_ref
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import Bucket
from bucketd.server.domain.objects import promote_blob_metadata, refuse_reserved
from bucketd.server.domain.user_json import check_user_json
from bucketd.server.errors import InvalidArgument, PayloadTooLarge

_UPLOAD_ID = re.compile(r"^upl_[a-zA-Z0-9_-]+$")


@dataclass(frozen=True, kw_only=True)
class BlobInput:
    """A blob as an entry point received it: `data` is CreateObject's JSON value; `source` is
    what a stream header or a confirm already knows the bytes to be."""

    property: str
    type: str | None
    key_prefix: str | None = None
    data: Any = None
    upload_id: str | None = None
    source: Streamed | UploadedFile | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    canonicalize_source: bool | None = None
    force_remirror: bool | None = None
    checksum: str | None = None


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
    # A batch item's own bucket_identifier (gRPC's field; REST's is a user field): checked
    # against the batch's bucket, never used to route.
    bucket_identifier: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlannedBlob:
    index: int
    blob_id: str
    property: str
    type: str
    key_prefix: str | None
    data: BlobData
    metadata: dict[str, Any]
    canonicalize: bool
    force: bool
    # The hex SHA-256 the caller's checksum promises.
    expected_sha256: str | None = None

    def where(self) -> str:
        """How errors name the blob: blobs[index]."""
        return f"blobs[{self.index}]"

    def check_sha256(self, actual: str) -> None:
        """The bytes hash to the checksum the caller gave, if any (else nothing is kept)."""
        if self.expected_sha256:
            check_sha256(f"{self.where()}.checksum", actual, self.expected_sha256)


@dataclass(frozen=True, kw_only=True)
class ObjectPlan:
    key_prefix: str | None
    blobs: list[PlannedBlob]
    metadata: dict[str, Any]
    skip_duplicates: bool = False
    idempotency_key: str | None = None
    policy: str | None = None

    def holder_refs(self, object_id: str) -> list[str]:
        """How the object's blobs will hold their contents (named before the first byte)."""
        return [holder_ref(object_id, blob.blob_id) for blob in self.blobs]


@dataclass(frozen=True)
class Limits:
    max_inline_bytes: int
    max_blobs: int
    max_metadata_bytes: int = 1024 * 1024
    # Buckets whose s3:// sources may be read (never bucketd's own storage bucket).
    s3_source_buckets: frozenset[str] = frozenset()


def _upload_ref(where: str, blob: BlobInput) -> UploadRef:
    if blob.data is not None:
        raise InvalidArgument(
            f"{where}: give either data or upload_id, not both", details={"field": where}
        )
    assert blob.upload_id is not None
    if not _UPLOAD_ID.fullmatch(blob.upload_id):
        raise InvalidArgument(
            f"{where}.upload_id: {blob.upload_id!r} is not an upload id (upl_...)",
            details={"field": f"{where}.upload_id"},
        )
    return UploadRef(blob.upload_id)


def _data(where: str, blob: BlobInput, field_type: str, limits: Limits) -> BlobData:
    """The blob's data, classified; MIME types known now are checked against the field."""
    if isinstance(blob.source, Streamed):
        mime.check_fits(
            f"{where}.mime_type", field_type, blob.source.mime_type or mime.OCTET_STREAM
        )
        return blob.source
    if isinstance(blob.source, UploadedFile):
        mime.check_fits(f"{where}.mime_type", field_type, blob.source.mime_type)
        return blob.source
    if blob.upload_id is not None:
        return _upload_ref(where, blob)
    if blob.data is None:
        raise InvalidArgument(f"{where}: give data or upload_id", details={"field": where})
    data = parse_blob_data(
        f"{where}.data", blob.data, field_type=field_type, inline_limit=limits.max_inline_bytes
    )
    if isinstance(data, JsonValue):
        check_user_json(f"{where}.data", data.value, max_bytes=limits.max_metadata_bytes)
    if isinstance(data, S3Location) and data.bucket not in limits.s3_source_buckets:
        raise unreadable_source(f"{where}.data", data)
    if isinstance(data, InlineBytes):  # known now: refuse a mismatch before anything is written
        sniffed = data.mime_type or mime.sniff(data.content, filename=data.filename)
        mime.check_not_empty(f"{where}.data", field_type, len(data.content))
        mime.check_fits(f"{where}.data", field_type, sniffed)
        data = dataclasses.replace(data, mime_type=sniffed)
    return data


def plan_blob(
    index: int, blob: BlobInput, bucket: Bucket, request: ObjectInput, limits: Limits
) -> PlannedBlob:
    """One blob checked against the bucket schema, with the id it will have."""
    where = f"blobs[{index}]"
    field_type = bucket.bucket_schema.property(blob.property, where=f"{where}.property").type
    if blob.type is None:
        raise InvalidArgument(f"{where}.type is required", details={"field": f"{where}.type"})
    if blob.type != field_type:
        raise InvalidArgument(
            f"{where}.type: {blob.type!r} does not match the schema type {field_type!r} of "
            f"{blob.property!r}",
            details={"field": f"{where}.type"},
        )
    check_user_json(f"{where}.metadata", blob.metadata, max_bytes=limits.max_metadata_bytes)
    expected = None if blob.checksum is None else parse_checksum(f"{where}.checksum", blob.checksum)
    data = _data(where, blob, field_type, limits)
    planned = PlannedBlob(
        index=index,
        blob_id=new_id("blob_"),
        property=blob.property,
        type=field_type,
        key_prefix=prefixes.normalize(blob.key_prefix, field=f"{where}.key_prefix"),
        data=data,
        metadata=blob.metadata,
        canonicalize=(
            request.canonicalize_source
            if blob.canonicalize_source is None
            else blob.canonicalize_source
        ),
        force=request.force_remirror if blob.force_remirror is None else blob.force_remirror,
        expected_sha256=expected,
    )
    if isinstance(data, InlineBytes):  # known now: refuse a mismatch before writing
        planned.check_sha256(hashlib.sha256(data.content).hexdigest())
    return planned


def check_blob_count(count: int, limits: Limits) -> None:
    if count > limits.max_blobs:
        raise PayloadTooLarge(
            f"blobs: at most {limits.max_blobs} blobs per object, got {count}",
            details={"field": "blobs", "limit": str(limits.max_blobs)},
        )


def plan_object(bucket: Bucket, request: ObjectInput, limits: Limits) -> ObjectPlan:
    """The validated object, or the first problem as InvalidArgument / PayloadTooLarge."""
    check_blob_count(len(request.blobs), limits)
    fields = {**(request.metadata or {}), **(request.user_fields or {})}
    check_user_json("metadata", fields, max_bytes=limits.max_metadata_bytes)
    refuse_reserved(fields)
    bucket.bucket_schema.check_values(fields)
    blobs = [
        plan_blob(index, blob, bucket, request, limits) for index, blob in enumerate(request.blobs)
    ]
    return ObjectPlan(
        key_prefix=prefixes.normalize(request.key_prefix),
        blobs=blobs,
        metadata=promote_blob_metadata(fields, [blob.metadata for blob in blobs]),
        skip_duplicates=request.skip_duplicates,
        idempotency_key=request.idempotency_key,
        policy=request.policy,
    )
