"""Object rules: the content hash, unique-key values and the status of a stored object."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bucketd.server.domain.models import Blob, Bucket, Namespace, ObjectRecord
from bucketd.server.domain.status import Status
from bucketd.server.domain.writes import WriteLease
from bucketd.server.errors import InvalidArgument

if TYPE_CHECKING:  # object_plan uses these rules
    from bucketd.server.domain.object_plan import ObjectPlan

# bucketd has no processing pipeline: an object whose bytes are stored stays PENDING ("not
# processed yet", the status the public docs give a new object). Failures end FAILED.
STORED_STATUS = Status.PENDING
WRITING_STATUS = Status.PROCESSING

# The object's own fields, and the names of the record: user fields never take these names.
RESERVED_FIELDS = frozenset(
    {
        "_id",
        "object_id",
        "bucket_id",
        "namespace_id",
        "key_prefix",
        "blobs",
        "metadata",
        "source_details",
        "status",
        "error",
        "created_at",
        "updated_at",
        "content_hash",
        "skipped_blobs",
        "document_count",
        "user_fields",
    }
)


def refuse_reserved(fields: dict[str, Any]) -> None:
    """A user field named like an object field would be shadowed by it in every answer."""
    clashing = sorted(RESERVED_FIELDS & fields.keys())
    if clashing:
        raise InvalidArgument(
            f"user field(s) {', '.join(clashing)}: these names belong to the object itself; "
            "rename them",
            details={"field": clashing[0]},
        )


def promote_blob_metadata(
    fields: dict[str, Any], blob_metadata: list[dict[str, Any]]
) -> dict[str, Any]:
    """The object's user fields with its blobs' metadata promoted to the root, as the public
    docs do at ingest: an explicit field wins, then the first blob that sets a key; reserved
    names are never taken."""
    promoted = dict(fields)
    for metadata in blob_metadata:
        for key, value in metadata.items():
            if key not in RESERVED_FIELDS:
                promoted.setdefault(key, value)
    return promoted


def content_hash(blobs: list[Blob]) -> str | None:
    """SHA-256 hex over the blobs' SHA-256 hex digests, concatenated in blob order."""
    digests = [blob.sha256 for blob in blobs if blob.sha256]
    if not digests:
        return None
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def unique_key_value(unique_key: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """A digest of the object's unique-key field values; InvalidArgument if one is missing."""
    values = []
    for name in unique_key.get("fields") or []:
        value = metadata.get(name)
        if value is None or value == "":
            raise InvalidArgument(
                f"unique key field {name!r} must have a value (the bucket's unique_key)",
                details={"field": name},
            )
        values.append(value)
    encoded = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def new_record(
    object_id: str,
    namespace: Namespace,
    bucket: Bucket,
    plan: ObjectPlan,
    write: WriteLease,
    *,
    now: datetime,
    claims: list[str],
) -> ObjectRecord:
    """The record of a new object before its first byte: PROCESSING, with its write's lease and
    the ids of the claims it takes (released by id, their shard key)."""
    return ObjectRecord(
        object_id=object_id,
        namespace_id=namespace.namespace_id,
        bucket_id=bucket.bucket_id,
        key_prefix=plan.key_prefix,
        blobs=[],
        metadata=plan.metadata,
        status=WRITING_STATUS,
        error=None,
        content_hash=None,
        skipped=[],
        created_at=now,
        updated_at=now,
        write=write,
        claims=claims,
    )
