"""Records of bucketd as the services see them (storage maps them to documents)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.status import Status
from bucketd.server.domain.user_json import search_text
from bucketd.server.domain.writes import WriteLease


@dataclass(frozen=True, kw_only=True)
class Organization:
    organization_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    """An API key record: the SHA-256 digest and a display prefix, never the key itself."""

    key_id: str
    organization_id: str
    digest: str
    prefix: str
    test: bool
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def state_at(self, now: datetime) -> str:
        """active, revoked or expired (the reference's API-key statuses)."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.usable_at(now) else "expired"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is calling: the organization of a valid API key."""

    organization_id: str
    key_id: str


@dataclass(frozen=True, kw_only=True)
class Namespace:
    namespace_id: str
    organization_id: str
    namespace_name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class NamespaceCounts:
    bucket_count: int = 0
    object_count: int = 0


@dataclass(frozen=True, kw_only=True)
class Bucket:
    """A bucket; unique_key keeps the reference's JSON shape."""

    bucket_id: str
    namespace_id: str
    bucket_name: str
    description: str | None
    bucket_schema: BucketSchema
    unique_key: dict[str, Any] | None
    metadata: dict[str, Any] = field(default_factory=dict)
    object_count: int = 0
    total_size_bytes: int = 0
    status: Status = Status.ACTIVE
    created_at: datetime
    updated_at: datetime
    last_upload_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class BucketChanges:
    """What an update or a patch sets; None leaves a field as it is."""

    bucket_name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    bucket_schema: BucketSchema | None = None
    unique_key: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class NamespaceChanges:
    """What a namespace's update sets; None leaves a field as it is."""

    namespace_name: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class SoftDeleteMarks:
    """What a bulk soft delete writes on each object it hides (its record and bytes stay)."""

    soft_deleted_at: datetime
    lifecycle_state: str
    deletion_reason: str | None
    deletion_source: str


@dataclass(frozen=True, kw_only=True)
class Blob:
    """A blob of an object: the content it holds (or the URL it references) and what it is."""

    blob_id: str
    property: str
    type: str
    key_prefix: str | None
    url: str
    content_id: str | None  # the content held; None for a URL referenced as it is
    storage_key: str | None  # the content's S3 key
    filename: str | None
    size_bytes: int | None
    mime_type: str | None
    sha256: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    data: Any = None  # the JSON value of a metadata-typed blob


@dataclass(frozen=True, kw_only=True)
class SkippedBlob:
    blob_index: int
    property: str
    sha256: str
    existing_object_id: str


@dataclass(frozen=True, kw_only=True)
class ObjectRecord:
    object_id: str
    namespace_id: str
    bucket_id: str
    key_prefix: str | None
    blobs: list[Blob]
    # The user fields: answered at the object's root (and mirrored under "metadata").
    metadata: dict[str, Any]
    status: Status
    error: str | None
    content_hash: str | None
    skipped: list[SkippedBlob]
    created_at: datetime
    updated_at: datetime
    # The write in flight (PROCESSING objects, rewrites, sessions), and the last one committed.
    write: WriteLease | None = None
    write_id: str | None = None
    # Holder references of replaced blobs, released once the new ones are committed.
    releases: list[str] = field(default_factory=list)
    # The ids of the claims it took (idempotency key, unique key): released by id, the claims'
    # shard key. None for a record stored before they were kept (released by object id).
    claims: list[str] | None = None

    @property
    def size_bytes(self) -> int:
        return sum(blob.size_bytes or 0 for blob in self.blobs)

    @property
    def search_text(self) -> str:
        return search_text(self.metadata)
