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

TERMINAL = frozenset(
    {Status.COMPLETED, Status.COMPLETED_WITH_ERRORS, Status.FAILED, Status.CANCELED}
)
RUNNABLE = (Status.PENDING, Status.IN_PROGRESS)


class TaskType(StrEnum):
    DELETE_NAMESPACE = "delete_namespace"
    DELETE_BUCKET = "delete_bucket"
    CONFIRM_UPLOADS = "confirm_uploads"


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
