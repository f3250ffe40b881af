"""`upload_id` blobs: each must name a COMPLETED upload of the bucket; it becomes StoredContent."""

from __future__ import annotations

import dataclasses

from bucketd.server.domain import mime
from bucketd.server.domain.blob_data import StoredContent, UploadRef
from bucketd.server.domain.models import Bucket, Namespace
from bucketd.server.domain.object_plan import ObjectPlan
from bucketd.server.domain.status import Status
from bucketd.server.domain.uploads import UploadRecord
from bucketd.server.errors import FailedPrecondition
from bucketd.server.services.ports import UploadStore


async def resolve_uploads(
    uploads: UploadStore,
    namespace: Namespace,
    bucket: Bucket,
    plan: ObjectPlan,
    confirming: UploadRecord | None,
) -> ObjectPlan:
    """Each upload_id must name a COMPLETED upload of this bucket; else 400 naming it."""
    blobs = []
    for planned in plan.blobs:
        resolved = planned
        if isinstance(planned.data, UploadRef):
            record = await _completed_upload(
                uploads,
                namespace,
                bucket,
                upload_id=planned.data.upload_id,
                index=planned.index,
                confirming=confirming,
            )
            where = f"blobs[{planned.index}].upload_id"
            mime.check_fits(where, planned.type, record.content_type)
            assert record.storage_key and record.file_hash, "COMPLETED uploads are adopted"
            content = StoredContent(
                storage_key=record.storage_key,
                sha256=record.file_hash,
                size_bytes=record.file_size_bytes or 0,
                mime_type=record.content_type,
                filename=record.filename,
            )
            resolved = dataclasses.replace(planned, data=content)
        blobs.append(resolved)
    return dataclasses.replace(plan, blobs=blobs)


async def _completed_upload(
    uploads: UploadStore,
    namespace: Namespace,
    bucket: Bucket,
    *,
    upload_id: str,
    index: int,
    confirming: UploadRecord | None,
) -> UploadRecord:
    if confirming is not None and confirming.upload_id == upload_id:
        return confirming
    where = f"blobs[{index}].upload_id"
    record = await uploads.get(namespace.namespace_id, bucket.bucket_id, upload_id)
    if record is None:
        raise FailedPrecondition(
            f"{where}: upload {upload_id!r} not found in this bucket", details={"field": where}
        )
    if record.status != Status.COMPLETED:
        raise FailedPrecondition(
            f"{where}: upload {upload_id!r} is {record.status}; only a confirmed "
            "(COMPLETED) upload can be used",
            details={"field": where},
        )
    return record
