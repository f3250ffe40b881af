"""What a blob's source stored, as a value: the orchestrator of the write (an object write, a
stream's finish) hands it to its draft, and only the orchestrator changes the draft.

A source is told where the bytes go and who will hold them (`BlobTarget`), never the draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bucketd.server.domain.contents import Content, holder_ref
from bucketd.server.domain.models import Blob
from bucketd.server.domain.object_plan import PlannedBlob


@dataclass(frozen=True, kw_only=True)
class BlobTarget:
    """The write a blob's bytes are for: its object, its lease, and whether a blob whose bytes
    another object of the bucket holds is skipped (skip_duplicates)."""

    namespace_id: str
    bucket_id: str
    object_id: str
    write_id: str
    skip_duplicates: bool

    def ref(self, blob_id: str) -> str:
        """The holder reference the blob takes on its content."""
        return holder_ref(self.object_id, blob_id)


@dataclass(frozen=True, kw_only=True)
class HeldContent:
    """The blob holds a content (new bytes, or bytes registered already)."""

    content: Content
    mime_type: str
    filename: str | None
    data: Any = None  # a JSON blob's value, kept beside its bytes
    new_bytes: bool = True  # False for an upload_id: its bytes were counted when uploaded


@dataclass(frozen=True)
class Skipped:
    """skip_duplicates: another object of the bucket holds these bytes."""

    sha256: str
    holder: str


@dataclass(frozen=True)
class Reference:
    """canonicalize_source: false — the URL is referenced as it is, nothing is copied."""

    url: str


Stored = HeldContent | Skipped | Reference


def held_blob(planned: PlannedBlob, stored: HeldContent, url: str) -> Blob:
    """The blob a planned blob becomes once it holds a content (its bytes at `url`)."""
    content = stored.content
    return Blob(
        blob_id=planned.blob_id,
        property=planned.property,
        type=planned.type,
        key_prefix=planned.key_prefix,
        url=url,
        content_id=content.content_id,
        storage_key=content.storage_key,
        filename=stored.filename,
        size_bytes=content.size_bytes,
        mime_type=stored.mime_type,
        sha256=content.sha256,
        metadata=planned.metadata,
        data=stored.data,
    )


def referenced_blob(planned: PlannedBlob, url: str) -> Blob:
    """canonicalize_source: false — the blob is the URL as it is."""
    return Blob(
        blob_id=planned.blob_id,
        property=planned.property,
        type=planned.type,
        key_prefix=planned.key_prefix,
        url=url,
        content_id=None,
        storage_key=None,
        filename=url.rsplit("/", 1)[-1] or None,
        size_bytes=None,
        mime_type=None,
        sha256=None,
        metadata=planned.metadata,
    )
