"""Shared helpers of the MongoDB adapters: error translation, the call's deadline and
timestamps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pymongo
from pymongo.errors import DuplicateKeyError, PyMongoError

from bucketd import metrics
from bucketd.server.domain.deadlines import call_seconds_left
from bucketd.server.errors import AlreadyExists, BucketdError, MongoUnavailable


def now_ms() -> datetime:
    """The current UTC time at MongoDB's precision (milliseconds), so reads equal writes."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@contextlib.contextmanager
def within_deadline() -> Iterator[None]:
    """The operations inside get at most what is left of the call's deadline (PyMongo's
    client-side operation timeout: waiting for a server and a connection included), so that a
    stalled MongoDB never holds an answer past it; without a deadline, the client's limits."""
    left = call_seconds_left()
    if left is None:
        yield
        return
    if left <= 0:  # pymongo.timeout(0) would mean no limit at all
        raise MongoUnavailable("the call's deadline passed before MongoDB was asked")
    with pymongo.timeout(left):
        yield


@contextlib.contextmanager
def translated(*, duplicate: str | None = None) -> Iterator[None]:
    """Turn driver errors into domain errors: DuplicateKeyError -> AlreadyExists(duplicate);
    within the call's deadline (every adapter's operations go through here)."""
    try:
        with within_deadline():
            yield
    except DuplicateKeyError as error:
        if duplicate is None:
            raise BucketdError(f"unexpected duplicate key: {error}") from error
        raise AlreadyExists(duplicate) from error
    except PyMongoError as error:
        metrics.STORE_ERRORS.labels("mongodb").inc()
        raise MongoUnavailable(f"MongoDB error: {error}") from error
