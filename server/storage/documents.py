"""Shared helpers of the MongoDB adapters: error translation, the call's deadline and
timestamps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from pymongo import _csot  # the deadline in force (see within_deadline)
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
    """The operations inside get at most what is left of the call's deadline, and at most
    BUCKETD_MONGODB_TIMEOUT_SECONDS each (the client's timeoutMS: storage/mongo.py), so that a
    stalled MongoDB never holds an answer past either. PyMongo's client-side operation timeout
    (waiting for a server and a connection included) takes the earlier of its own deadline and
    the one in force: only the call's is set here, as PyMongo's `timeout` would replace the
    client's limit instead of adding to it. Without a call deadline, the client's limit alone."""
    left = call_seconds_left()
    if left is None:
        yield
        return
    if left <= 0:
        raise MongoUnavailable("the call's deadline passed before MongoDB was asked")
    token = _csot.DEADLINE.set(min(_csot.DEADLINE.get(), time.monotonic() + left))
    try:
        yield
    finally:
        _csot.DEADLINE.reset(token)


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
