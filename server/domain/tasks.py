"""Tasks: background work a caller can poll (the public docs' TaskResponse).

A task runs under a lease stored in its MongoDB record, renewed while it runs: if its instance
dies, another instance's janitor takes it over once the lease runs out and runs it again from
the start, so every task's work is a series of idempotent steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bucketd.server.domain.status import Status
from bucketd.server.domain.uploads import UploadRecord

TERMINAL = frozenset(
    {Status.COMPLETED, Status.COMPLETED_WITH_ERRORS, Status.FAILED, Status.CANCELED}
)
RUNNABLE = (Status.PENDING, Status.IN_PROGRESS)


class TaskType(StrEnum):
    """The public docs' TaskType values of the work bucketd runs as tasks."""

    DELETE_NAMESPACE = "api_namespaces_delete"
    DELETE_BUCKET = "api_buckets_delete"
    CONFIRM_UPLOADS = "api_buckets_uploads_batch_confirm"
    # One upload confirmed in the background (?async=true): its upload's record is the task.
    CONFIRM_UPLOAD = "api_buckets_uploads_confirm"


# The names bucketd 0.x gave its task types before it took the public docs' values: records
# written then still carry them.
LEGACY_TASK_TYPES = {
    "delete_namespace": TaskType.DELETE_NAMESPACE,
    "delete_bucket": TaskType.DELETE_BUCKET,
    "confirm_uploads": TaskType.CONFIRM_UPLOADS,
}


# Deletions cannot stop halfway: what they deleted first is already gone for the caller.
UNSTOPPABLE = frozenset({TaskType.DELETE_NAMESPACE, TaskType.DELETE_BUCKET})


@dataclass(frozen=True)
class TaskOutcome:
    """What a task's work ends with: its outputs, COMPLETED or COMPLETED_WITH_ERRORS."""

    outputs: dict[str, Any]
    status: Status = Status.COMPLETED


@dataclass(frozen=True, kw_only=True)
class TaskRecord:
    task_id: str
    organization_id: str
    namespace_id: str | None
    task_type: TaskType
    status: Status
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Progress, reported as the task goes (counts of what it did so far).
    additional_data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    lease_until: datetime | None = None
    attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def upload_task(upload: UploadRecord) -> TaskRecord:
    """The task a background confirm of one upload answers as: the upload's own state."""
    assert upload.task_id is not None
    outputs = {"object_id": upload.object_id, "file_hash": upload.file_hash}
    return TaskRecord(
        task_id=upload.task_id,
        organization_id=upload.organization_id,
        namespace_id=upload.namespace_id,
        task_type=TaskType.CONFIRM_UPLOAD,
        status=upload.status,
        inputs={"bucket_id": upload.bucket_id, "upload_id": upload.upload_id},
        outputs=outputs if upload.status == Status.COMPLETED else {},
        error=upload.message if upload.status == Status.FAILED else None,
        created_at=upload.verified_at or upload.created_at,
        updated_at=upload.completed_at or upload.verified_at or upload.created_at,
    )
