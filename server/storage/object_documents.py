"""Object records <-> MongoDB documents (shared by the object, write and claim stores)."""

from __future__ import annotations

from dataclasses import asdict

from bucketd.server.domain.models import Blob, ObjectRecord, SkippedBlob
from bucketd.server.domain.status import Status
from bucketd.server.domain.streams import SessionHeader, StreamBlobSpec, StreamHeader
from bucketd.server.domain.writes import Part, PendingContent, Tail, WriteKind, WriteLease
from bucketd.server.storage.mongo import Document


def _pending(doc: Document) -> PendingContent:
    return PendingContent(
        content_id=doc["content_id"],
        storage_key=doc["storage_key"],
        multipart_id=doc.get("multipart_id"),
        parts=[Part(**part) for part in doc.get("parts", [])],
        owned=doc.get("owned", True),
        tail=Tail(**doc["tail"]) if doc.get("tail") else None,
        head=bytes(doc.get("head", b"")),
    )


def _session_header(doc: Document | None) -> SessionHeader | None:
    """A session's header as stored (the dataclasses as dicts) -> the domain's."""
    if doc is None:
        return None
    stream = doc["stream"]
    blobs = [StreamBlobSpec(**blob) for blob in stream["blobs"]]
    return SessionHeader(
        stream=StreamHeader(**{**stream, "blobs": blobs}),
        blob_ids=list(doc["blob_ids"]),
        secret_hash=doc.get("secret_hash", ""),
        organization_id=doc.get("organization_id", ""),
    )


def write_lease(doc: Document) -> WriteLease:
    return WriteLease(
        write_id=doc["write_id"],
        kind=WriteKind(doc["kind"]),
        lease_until=doc["lease_until"],
        new_object=doc["new_object"],
        refs=list(doc.get("refs", [])),
        pending=[_pending(item) for item in doc.get("pending", [])],
        header=_session_header(doc.get("header")),
        stream_token=doc.get("stream_token"),
        streaming_until=doc.get("streaming_until"),
        wanted_by=doc.get("wanted_by"),
        wanted_until=doc.get("wanted_until"),
    )


def object_record(doc: Document) -> ObjectRecord:
    write = doc.get("write")
    return ObjectRecord(
        object_id=doc["_id"],
        namespace_id=doc["namespace_id"],
        bucket_id=doc["bucket_id"],
        key_prefix=doc.get("key_prefix"),
        blobs=[Blob(**blob) for blob in doc.get("blobs", [])],
        metadata=doc.get("metadata") or {},
        status=Status(doc["status"]),
        error=doc.get("error"),
        content_hash=doc.get("content_hash"),
        skipped=[SkippedBlob(**skipped) for skipped in doc.get("skipped", [])],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        write=write_lease(write) if write else None,
        write_id=doc.get("write_id"),
        releases=list(doc.get("releases", [])),
        claims=list(doc["claims"]) if doc.get("claims") is not None else None,
    )


def object_document(record: ObjectRecord) -> Document:
    doc = asdict(record)
    doc["_id"] = doc.pop("object_id")
    if doc["write"] is None:
        del doc["write"]
    if doc["claims"] is None:
        del doc["claims"]
    doc["size_bytes"] = record.size_bytes  # what bucket usage sums
    doc["search_text"] = record.search_text  # what `search` matches, with key_prefix
    return doc
