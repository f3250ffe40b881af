"""Presigned-upload rules (reference section 4): what a CreateUpload may ask, and the S3 key."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from bucketd.server.domain import mime
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.status import Status
from bucketd.server.domain.user_json import search_text
from bucketd.server.errors import InvalidArgument, PayloadTooLarge

EXPIRATION_SECONDS = (60, 86400)
DEFAULT_EXPIRATION_SECONDS = 3600
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$", re.I)
_PROPERTY = re.compile(r"^[A-Za-z0-9_]+$")
_SHA256 = re.compile(r"^[a-f0-9]{64}$")
_FAMILY_TYPES = {"video": "VIDEO", "image": "IMAGE", "audio": "AUDIO", "text": "TEXT"}


@dataclass(frozen=True, kw_only=True)
class UploadRecord:
    upload_id: str
    namespace_id: str
    organization_id: str
    bucket_id: str
    filename: str
    content_type: str
    file_size_bytes: int | None
    presigned_url_expiration: int
    s3_key: str
    status: Status
    metadata: dict[str, Any] = field(default_factory=dict)
    object_metadata: dict[str, Any] = field(default_factory=dict)
    blob_property: str | None = None
    blob_type: str | None = None
    file_hash: str | None = None
    skip_duplicates: bool = True
    create_object_on_confirm: bool = True
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None = None
    verified_at: datetime | None = None
    etag: str | None = None
    object_id: str | None = None
    task_id: str | None = None
    message: str | None = None
    content_id: str | None = None  # the content its file became, once COMPLETED
    lease_until: datetime | None = None
    # The confirm's ?policy= for the object it creates (kept for a confirm another resumes).
    policy: str | None = None

    @property
    def search_text(self) -> str:
        return search_text(self.metadata)


@dataclass(frozen=True, kw_only=True)
class UploadClaim:
    """A confirm takes the upload: PROCESSING under its lease, its file verified."""

    task_id: str
    lease_until: datetime
    verified_at: datetime
    etag: str
    policy: str | None


@dataclass(frozen=True)
class LeaseRenewal:
    """A confirm (a new one, once the last one's lease ran out) holds the upload until then."""

    lease_until: datetime


@dataclass(frozen=True)
class UploadEnded:
    """The upload ends without a content: FAILED or CANCELED, and why."""

    status: Status
    message: str


@dataclass(frozen=True, kw_only=True)
class UploadCompleted:
    """The upload's file became a content (and, if asked, an object)."""

    file_hash: str
    file_size_bytes: int
    content_id: str
    object_id: str | None
    completed_at: datetime


UploadChange = UploadClaim | LeaseRenewal | UploadEnded | UploadCompleted


def changed_fields(change: UploadChange) -> dict[str, Any]:
    """The fields of UploadRecord that a change sets (what the stores write)."""
    match change:
        case UploadClaim():
            return {"status": Status.PROCESSING, **asdict(change)}
        case LeaseRenewal(lease_until):
            return {"lease_until": lease_until}
        case UploadEnded(status, message):
            return {"status": status, "message": message, "lease_until": None}
        case UploadCompleted():
            done = {"status": Status.COMPLETED, "lease_until": None, "message": None}
            return {**done, **asdict(change)}


@dataclass(frozen=True, kw_only=True)
class UploadRequest:
    filename: str
    content_type: str
    file_size_bytes: int | None = None
    presigned_url_expiration: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    create_object_on_confirm: bool = True
    object_metadata: dict[str, Any] = field(default_factory=dict)
    blob_property: str | None = None
    blob_type: str | None = None
    file_hash: str | None = None
    skip_duplicates: bool = True


def _invalid(name: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{name}: {message}", details={"field": name})


def check_filename(filename: str) -> str:
    if not 1 <= len(filename) <= 255:
        raise _invalid("filename", f"must be 1 to 255 characters, got {len(filename)}")
    if "/" in filename or "\\" in filename or filename in {".", ".."} or ".." in filename:
        raise _invalid("filename", "must be a plain file name, without path separators or '..'")
    if any(ord(char) < 32 for char in filename):
        raise _invalid("filename", "must not contain control characters")
    return filename


def derived_blob_type(content_type: str) -> str | None:
    """video/mp4 -> VIDEO, application/pdf -> PDF, as the reference derives it."""
    family = content_type.split("/", maxsplit=1)[0].lower()
    if content_type.lower() == "application/pdf":
        return "PDF"
    return _FAMILY_TYPES.get(family)


def check_request(request: UploadRequest, *, schema: BucketSchema, max_bytes: int) -> UploadRequest:
    """A validated request with defaults filled in; errors name the field."""
    check_filename(request.filename)
    if not _MIME.fullmatch(request.content_type):
        raise _invalid(
            "content_type", f"{request.content_type!r} is not a MIME type (type/subtype)"
        )
    size = request.file_size_bytes
    if size is not None and size < 0:
        raise _invalid("file_size_bytes", "must be 0 or more")
    if size is not None and size > max_bytes:
        raise PayloadTooLarge(
            f"file_size_bytes: {size} exceeds the upload limit of {max_bytes} bytes",
            details={"field": "file_size_bytes", "limit_bytes": str(max_bytes)},
        )
    low, high = EXPIRATION_SECONDS
    expiration = request.presigned_url_expiration or DEFAULT_EXPIRATION_SECONDS
    if not low <= expiration <= high:
        raise _invalid("presigned_url_expiration", f"must be {low} to {high} seconds")
    if request.file_hash is not None and not _SHA256.fullmatch(request.file_hash):
        raise _invalid("file_hash", "must be 64 lowercase hex characters (SHA-256)")
    prop = request.blob_property or PurePosixPath(request.filename).stem
    if request.create_object_on_confirm:
        if not _PROPERTY.fullmatch(prop):
            raise _invalid("blob_property", f"{prop!r} may use only letters, digits and '_'")
        field_type = schema.property(prop, where="blob_property").type
        if not mime.fits(field_type, request.content_type):
            raise _invalid(
                "content_type",
                f"{request.content_type} does not fit the {field_type} property {prop!r}",
            )
    return UploadRequest(
        **{
            **request.__dict__,
            "presigned_url_expiration": expiration,
            "blob_property": prop,
            "blob_type": request.blob_type or derived_blob_type(request.content_type),
        }
    )


def namespace_prefix(organization_id: str, namespace_id: str) -> str:
    """Where a namespace's uploaded files lie: {internal_id}/{namespace_id}/."""
    return f"{organization_id}/{namespace_id}/"


def s3_key(organization_id: str, namespace_id: str, upload_id: str, filename: str) -> str:
    """The reference's key layout: {internal_id}/{namespace_id}/api_buckets_uploads_create/…"""
    prefix = namespace_prefix(organization_id, namespace_id)
    return f"{prefix}api_buckets_uploads_create/{upload_id}/{filename}"
