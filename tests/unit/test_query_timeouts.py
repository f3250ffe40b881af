"""Issue 39, the victim is not blamed: only MongoDB's own expiry of a query's maxTimeMS (its
cost) is the caller's 400 QUERY_TOO_EXPENSIVE; a client-side timeout (waiting for a connection,
for a server, for an answer) is the store's 503, retryable. The driver's real exception types."""

from __future__ import annotations

import pytest
from pymongo.errors import (
    ExecutionTimeout,
    NetworkTimeout,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
)

from bucketd.server.errors import MongoUnavailable, QueryTooExpensive
from bucketd.server.storage.documents import translated
from bucketd.server.storage.queries import QueryLimits, bounded

LIMITS = QueryLimits(seconds=10)
SERVER_EXPIRY = ExecutionTimeout(
    "operation exceeded time limit",
    50,
    {
        "ok": 0,
        "errmsg": "operation exceeded time limit",
        "code": 50,
        "codeName": "MaxTimeMSExpired",
    },
)
WAITS = [
    WaitQueueTimeoutError("Timed out while checking out a connection from connection pool"),
    NetworkTimeout("127.0.0.1:27017: timed out"),
    ServerSelectionTimeoutError("No servers found yet, Timeout: 5.0s"),
]


def _raised(error: PyMongoError) -> BaseException:
    with pytest.raises(Exception) as caught, translated(), bounded(LIMITS):
        raise error
    return caught.value


def test_the_servers_expiry_of_max_time_ms_is_the_callers_query_too_expensive() -> None:
    refused = _raised(SERVER_EXPIRY)
    assert isinstance(refused, QueryTooExpensive)
    assert "BUCKETD_QUERY_TIMEOUT_SECONDS" in refused.message


@pytest.mark.parametrize("error", WAITS, ids=lambda error: type(error).__name__)
def test_waiting_is_the_stores_retryable_503_never_the_callers_fault(error: PyMongoError) -> None:
    assert error.timeout  # the driver calls it a timeout, as it did QUERY_TOO_EXPENSIVE before
    refused = _raised(error)
    assert isinstance(refused, MongoUnavailable), refused
    assert "retry" in refused.public_message


def test_every_operation_carries_the_limit_as_max_time_ms() -> None:
    assert QueryLimits(seconds=7).max_time_ms == 7000
    assert QueryLimits(seconds=0.000001).max_time_ms == 1  # 0 would mean "no limit"
