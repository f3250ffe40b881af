"""ObjectService's messages and the domain's inputs, both ways: a stored object as its proto, a
create's or an aggregation's request as the domain's input, and a listing's field selection."""

from __future__ import annotations

from typing import Any

from bucketd.server.api import convert, enums
from bucketd.server.domain import checksums
from bucketd.server.domain.aggregation import Aggregation, GroupBy, Having, Metric, RangeBuckets
from bucketd.server.domain.models import Blob, ObjectRecord
from bucketd.server.domain.object_plan import BlobInput, ObjectInput
from bucketd.v1 import common_pb2
from bucketd.v1 import objects_pb2 as pb


def blob_message(blob: Blob, presigned_url: str | None = None) -> pb.Blob:
    properties: dict[str, Any] = {"url": blob.url, **blob.metadata}
    if blob.data is not None:
        properties["data"] = blob.data
    if presigned_url:
        properties["presigned_url"] = presigned_url
    return pb.Blob(
        presigned_url=presigned_url,
        blob_id=blob.blob_id,
        property=blob.property,
        type=convert.field_type(blob.type),
        key_prefix=blob.key_prefix,
        properties=convert.struct(properties),
        details=pb.BlobDetails(
            filename=blob.filename or "",
            size_bytes=blob.size_bytes or 0,
            mime_type=blob.mime_type or "",
            hash=checksums.labelled(blob.sha256),
        ),
    )


def object_message(record: ObjectRecord, presigned: dict[str, str] | None = None) -> pb.Object:
    message = pb.Object(
        object_id=record.object_id,
        bucket_id=record.bucket_id,
        key_prefix=record.key_prefix,
        blobs=[blob_message(b, (presigned or {}).get(b.blob_id)) for b in record.blobs],
        source_details=[common_pb2.SourceDetails(type="bucket", source_id=record.bucket_id)],
        status=convert.status(record.status),
        error=record.error,
        created_at=convert.timestamp(record.created_at),
        updated_at=convert.timestamp(record.updated_at),
        content_hash=record.content_hash or "",
        skipped_blobs=[
            pb.SkippedBlob(
                blob_index=s.blob_index,
                property=s.property,
                hash=checksums.labelled(s.sha256),
                existing_object_id=s.existing_object_id,
            )
            for s in record.skipped
        ],
    )
    message.user_fields.CopyFrom(convert.struct(record.metadata))
    message.metadata.CopyFrom(message.user_fields)
    return message


def blob_input(blob: pb.CreateBlobRequest) -> BlobInput:
    return BlobInput(
        property=blob.property,
        type=enums.spelling(enums.FIELD_TYPE, blob.type),
        key_prefix=convert.optional(blob, "key_prefix"),
        data=convert.value_of(blob.data) if blob.HasField("data") else None,
        upload_id=convert.optional(blob, "upload_id"),
        metadata=convert.to_dict(blob.metadata),
        canonicalize_source=convert.optional(blob, "canonicalize_source"),
        force_remirror=convert.optional(blob, "force_remirror"),
        checksum=convert.optional(blob, "checksum"),
    )


def aggregation_of(request: pb.AggregateObjectsRequest) -> Aggregation:
    return Aggregation(
        group_by=[
            GroupBy(
                field=g.field,
                alias=convert.optional(g, "alias"),
                date_trunc=convert.optional(g, "date_trunc"),
                date_part=convert.optional(g, "date_part"),
            )
            for g in request.group_by
        ],
        metrics=[
            Metric(
                function=m.function,
                alias=m.alias,
                field=convert.optional(m, "field"),
                distinct_field=convert.optional(m, "distinct_field"),
            )
            for m in request.aggregations
        ],
        having=[
            Having(h.field, h.operator, convert.value_of(h.value) if h.HasField("value") else None)
            for h in request.having
        ],
        unwind=convert.optional(request, "unwind"),
        range_buckets=[
            RangeBuckets(r.field, list(r.boundaries), convert.optional(r, "default_bucket"))
            for r in request.range_buckets
        ],
        sort_by=convert.optional(request, "sort_by"),
        descending=enums.spelling(enums.SORT_DIRECTION, request.sort_direction) != "asc",
        limit=convert.optional(request, "limit"),
    )


def row_keys(spec: Aggregation) -> list[str]:
    return [g.alias or g.field.replace(".", "_") for g in spec.group_by]


def object_input(request: pb.CreateObjectRequest) -> ObjectInput:
    canonicalize = convert.optional(request, "canonicalize_source")
    return ObjectInput(
        key_prefix=convert.optional(request, "key_prefix"),
        blobs=[blob_input(blob) for blob in request.blobs],
        metadata=convert.to_dict(request.metadata) if request.HasField("metadata") else None,
        user_fields=(
            convert.to_dict(request.user_fields) if request.HasField("user_fields") else None
        ),
        skip_duplicates=bool(convert.optional(request, "skip_duplicates")),
        canonicalize_source=True if canonicalize is None else canonicalize,
        force_remirror=bool(request.force_remirror),
        idempotency_key=convert.optional(request, "idempotency_key") or None,
        policy=enums.spelling(enums.UNIQUE_KEY_POLICY, request.policy),
    )


def select_fields(message: pb.Object, select: Any) -> pb.Object:
    """Keep the selected fields; object_id and bucket_id always stay, user fields by name."""
    if not select:
        return message
    names = {field.name for field in message.DESCRIPTOR.fields}
    heads = {path.split(".")[0] for path in select}
    keep = {"object_id", "bucket_id"} | (heads & names)
    user = {
        path.removeprefix("metadata.").split(".")[0]
        for path in select
        if path.startswith("metadata.") or path.split(".")[0] not in names
    }
    for field in message.DESCRIPTOR.fields:
        if field.name in {"metadata", "user_fields"} and user:
            struct = getattr(message, field.name)
            for key in [k for k in struct.fields if k not in user]:
                del struct[key]
        elif field.name not in keep:
            message.ClearField(field.name)  # type: ignore[arg-type]  # a name of its own fields
    return message
