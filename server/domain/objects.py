"""Object rules: the content hash, unique-key values and the status of a stored object."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from bucketd.server.domain.models import Blob
from bucketd.server.domain.status import Status
from bucketd.server.errors import InvalidArgument

# bucketd has no processing pipeline: an object whose bytes are stored stays DRAFT, the status
# the reference gives an ingested object until a batch processes it. Failures end FAILED.
STORED_STATUS = Status.DRAFT
WRITING_STATUS = Status.PROCESSING


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
