"""Batch calls (create objects, create uploads, confirm uploads): one size rule, one outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from bucketd.server.errors import BucketdError, InvalidArgument

MAX_BATCH_ITEMS = 100


def check_batch_size(field_name: str, count: int) -> None:
    """1 to MAX_BATCH_ITEMS items, else InvalidArgument naming the field."""
    if not 1 <= count <= MAX_BATCH_ITEMS:
        raise InvalidArgument(
            f"{field_name}: give 1 to {MAX_BATCH_ITEMS} items per batch, got {count}",
            details={"field": field_name, "limit": str(MAX_BATCH_ITEMS)},
        )


@dataclass(frozen=True)
class BatchFailure:
    index: int
    error: BucketdError


@dataclass
class BatchOutcome[T]:
    """What a partial-success batch did: the items made, and each failure with its index."""

    succeeded: list[T] = field(default_factory=list)
    failed: list[BatchFailure] = field(default_factory=list)
