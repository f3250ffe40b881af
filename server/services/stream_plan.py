"""A stream's object, planned from its header (or again from a session's), and what one stream
holds while it receives: the draft and a writer per announced blob."""

from __future__ import annotations

import dataclasses

from bucketd.server.domain.blob_data import Streamed
from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord
from bucketd.server.domain.object_plan import (
    BlobInput,
    Limits,
    ObjectInput,
    ObjectPlan,
    PlannedBlob,
    check_blob_count,
    plan_blob,
    plan_object,
)
from bucketd.server.domain.streams import (
    SessionHeader,
    StreamBlobSpec,
    StreamHeader,
    StreamLimits,
    check_header,
    check_written,
)
from bucketd.server.errors import InvalidArgument
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.content_writer import ContentWriter
from bucketd.server.services.drafts import Draft
from bucketd.server.services.session_hold import SessionHold


def _blob_input(bucket: Bucket, index: int, spec: StreamBlobSpec) -> BlobInput:
    field_type = (
        spec.type
        or bucket.bucket_schema.property(spec.property, where=f"blobs[{index}].property").type
    )
    return BlobInput(
        property=spec.property,
        type=field_type,
        metadata=spec.metadata,
        checksum=spec.expected_sha256,  # one checksum rule for every way in
        source=Streamed(
            filename=spec.filename,
            mime_type=spec.mime_type,
            expected_size=spec.expected_size,
            expected_crc32c=spec.expected_crc32c,
        ),
    )


def _object_input(bucket: Bucket, header: StreamHeader) -> ObjectInput:
    return ObjectInput(
        key_prefix=header.key_prefix,
        blobs=[_blob_input(bucket, index, spec) for index, spec in enumerate(header.blobs)],
        metadata=header.metadata,
        skip_duplicates=header.skip_duplicates,
        force_remirror=header.force_remirror,
        idempotency_key=header.idempotency_key,
    )


@dataclasses.dataclass
class Stream:
    """One stream's receiving end: the draft and a writer per announced blob."""

    draft: Draft
    bucket: Bucket
    request: ObjectInput
    writers: list[ContentWriter] = dataclasses.field(default_factory=list)
    hold: SessionHold | None = None  # a session's stream: its hold on the session


class StreamPlanner:
    """The object a stream's header describes, planned under the limits of every object."""

    def __init__(
        self, *, buckets: BucketService, limits: StreamLimits, object_limits: Limits
    ) -> None:
        self._buckets = buckets
        self.limits = limits
        self._object_limits = object_limits

    async def plan(
        self, namespace: Namespace, header: StreamHeader
    ) -> tuple[Bucket, ObjectInput, ObjectPlan]:
        """Refuse a header the object could never be made of, before anything is written."""
        check_header(header, self.limits)
        bucket = await self._buckets.get(namespace, header.bucket_identifier)
        request = _object_input(bucket, header)
        return bucket, request, plan_object(bucket, request, self._object_limits)

    async def replan(
        self, namespace: Namespace, record: ObjectRecord
    ) -> tuple[Bucket, ObjectInput, ObjectPlan]:
        """A session's object planned again from its saved header, its blob ids kept."""
        assert record.write is not None and record.write.header is not None
        saved: SessionHeader = record.write.header
        bucket = await self._buckets.get(namespace, record.bucket_id)
        request = _object_input(bucket, saved.stream)
        plan = plan_object(bucket, request, self._object_limits)
        blobs = [
            dataclasses.replace(planned, blob_id=blob_id)
            for planned, blob_id in zip(plan.blobs, saved.blob_ids, strict=True)
        ]
        return bucket, request, dataclasses.replace(plan, blobs=blobs)

    def announced(self, stream: Stream, spec: StreamBlobSpec) -> PlannedBlob:
        """A blob announced mid-stream, planned like the header's."""
        index = len(stream.draft.plan.blobs)
        check_blob_count(index + 1, self._object_limits)
        blob = _blob_input(stream.bucket, index, spec)
        return plan_blob(index, blob, stream.bucket, stream.request, self._object_limits)


def check_length(stream: Stream, index: int, size: int) -> None:
    """Never more bytes than the blob's announced size (a resumable upload's Upload-Length)."""
    spec = stream.draft.plan.blobs[index].data if index < len(stream.draft.plan.blobs) else None
    if isinstance(spec, Streamed) and spec.expected_size is not None and size > spec.expected_size:
        raise InvalidArgument(
            f"blob {index}: more bytes than its expected_size_bytes ({spec.expected_size}); "
            "the bytes past it were not kept"
        )


async def check_received(stream: Stream) -> None:
    """Sizes and CRC32C of what arrived, before anything is completed."""
    draft = stream.draft
    if not draft.plan.blobs:
        raise InvalidArgument("the stream announced no blob")
    for planned, writer in zip(draft.plan.blobs, stream.writers, strict=True):
        spec = planned.data
        assert isinstance(spec, Streamed)
        check_written(planned.where(), spec, await writer.seen())
