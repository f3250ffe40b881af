"""Contents: byte sequences stored once in S3 and registered by SHA-256 within a namespace.

An object's blob *holds* a content; several blobs may hold the same one (deduplication). The
registry (storage/contents.py) keeps, per content, the references of its holders; bytes nobody
has held for a grace period are deleted by the janitor. A content's storage key is chosen before
its first byte is written and never changes: bytes are written once, at their final key, and
never copied or renamed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bucketd.server.domain.ids import new_id

CONTENT_PREFIX = "cnt_"


@dataclass(frozen=True, kw_only=True)
class Content:
    """A registered byte sequence: where it is, what it is."""

    content_id: str
    namespace_id: str
    sha256: str
    storage_key: str
    size_bytes: int
    mime_type: str


def new_content_id() -> str:
    return new_id(CONTENT_PREFIX, 20)


def content_key(namespace_id: str, content_id: str) -> str:
    """Where new bytes of the namespace are written: one key per content, chosen up front."""
    return f"{namespace_id}/contents/{content_id}"


def holder_ref(object_id: str, blob_id: str) -> str:
    """How an object's blob is named among a content's holders."""
    return f"{object_id}/{blob_id}"


def upload_ref(upload_id: str) -> str:
    """A confirmed upload that created no object holds its bytes itself (for a later upload_id)."""
    return f"upload:{upload_id}"


def dedup_key(sha256: str, content_id: str, *, canonical: bool) -> str:
    """The registry's unique key: the SHA-256 for the one content that new bytes deduplicate
    against; a forced copy (force_remirror) gets a key of its own and is never a dedup target."""
    return sha256 if canonical else f"{sha256}:{content_id}"
