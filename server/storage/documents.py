"""Shared helpers of the MongoDB adapters: error translation and timestamps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError, PyMongoError

from bucketd import metrics
from bucketd.server.errors import AlreadyExists, BucketdError, MongoUnavailable


def now_ms() -> datetime:
    """The current UTC time at MongoDB's precision (milliseconds), so reads equal writes."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@contextlib.contextmanager
def translated(*, duplicate: str | None = None) -> Iterator[None]:
    """Turn driver errors into domain errors: DuplicateKeyError -> AlreadyExists(duplicate)."""
    try:
        yield
    except DuplicateKeyError as error:
        if duplicate is None:
            raise BucketdError(f"unexpected duplicate key: {error}") from error
        raise AlreadyExists(duplicate) from error
    except PyMongoError as error:
        metrics.STORE_ERRORS.labels("mongodb").inc()
        raise MongoUnavailable(f"MongoDB error: {error}") from error
