"""Batch calls (create objects, create uploads, confirm uploads): one size rule, one outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from bucketd.server.errors import BucketdError, InvalidArgument, StorageUnavailable, Violation

MAX_BATCH_ITEMS = 100


def check_batch_size(field_name: str, count: int) -> None:
    """1 to MAX_BATCH_ITEMS items, else InvalidArgument naming the field."""
    if not 1 <= count <= MAX_BATCH_ITEMS:
        raise InvalidArgument(
            f"{field_name}: give 1 to {MAX_BATCH_ITEMS} items per batch, got {count}",
            details={"field": field_name, "limit": str(MAX_BATCH_ITEMS)},
        )


def check_item_bucket(index: int, named: object, bucket_name: str, bucket_id: str) -> None:
    """A batch item that names a bucket (`bucket_identifier`) must name the batch's own: the
    path alone picks the bucket, and an item meant for another one is refused, not stored
    there by surprise. Naming the batch's bucket is harmless (over REST it stays a user
    field, as the public contract keeps every undeclared key of an object body)."""
    if named in (None, "", bucket_name, bucket_id):
        return
    where = f"objects[{index}].bucket_identifier"
    raise InvalidArgument(
        f"{where}: {named!r} is not this batch's bucket {bucket_name!r}: the path picks the "
        "bucket of every object in a batch; send this object in a batch to its own bucket",
        details={"field": where},
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


def all_failed(field_name: str, failures: list[BatchFailure]) -> BucketdError:
    """The error of a batch whose every item failed (the public docs answer 422): each item's
    fields at fault, under `field_name[index]`. A storage outage stays itself (retryable)."""
    for failure in failures:
        if isinstance(failure.error, StorageUnavailable):
            return failure.error
    violations: list[Violation] = []
    for failure in failures:
        where = f"{field_name}[{failure.index}]"
        located = failure.error.at(where)
        violations += located.violations or [Violation(where, failure.error.message)]
    first = failures[0]
    return InvalidArgument(
        f"none of the {len(failures)} item(s) succeeded; {field_name}[{first.index}]: "
        f"{first.error.message}",
        details={"failed_count": str(len(failures))},
        violations=violations,
    )
