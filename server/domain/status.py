"""TaskStatusEnum of the reference (section 1.3): the one status vocabulary of objects, buckets,
uploads and tasks. A StrEnum, so that stored documents and comparisons see plain strings."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    SUSPENDED = "SUSPENDED"
    # In the public docs' enum; bucketd never sets them (a filter may name them).
    QUEUED = "QUEUED"
    INTERRUPTED = "INTERRUPTED"
    DEACTIVATED = "DEACTIVATED"
