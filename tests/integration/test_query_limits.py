"""Every list, stats and aggregation query is bounded (issue 27): it carries maxTimeMS, it fails
with a clear 400 naming BUCKETD_QUERY_TIMEOUT_SECONDS past it, and its answer is refused past
its size limit instead of flooding the server and the client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from bucketd.server.domain import aggregation
from bucketd.server.domain.aggregation import Aggregation, GroupBy, Metric
from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import ObjectRecord
from bucketd.server.domain.query import EVERYTHING
from bucketd.server.domain.status import Status
from bucketd.server.errors import QueryTooExpensive
from bucketd.server.services.object_reads import aggregation_field, stored_field
from bucketd.server.settings import Settings
from bucketd.server.storage.objects import MongoObjects
from bucketd.server.storage.queries import QueryLimits
from bucketd.server.storage.query_clock import QueryClock
from tests.e2e.harness import until

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LIMIT = 2.0  # a list's time limit (BUCKETD_QUERY_TIMEOUT_SECONDS) in the waiting test
HOLD_MS = 1700  # how long a slow call holds the only connection: most of LIMIT
READS = {"find", "aggregate"}  # count_documents is an aggregate


class Commands(monitoring.CommandListener):
    """The commands the driver sent, as sent."""

    def __init__(self) -> None:
        self.started_commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.started_commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _record(index: int, payload: str) -> ObjectRecord:
    return ObjectRecord(
        object_id=f"obj_{index:04d}",
        namespace_id="ns_l",
        bucket_id="bkt_l",
        key_prefix=None,
        blobs=[],
        metadata={"title": f"t{index % 3}", "payload": payload},
        status=Status.PENDING,
        error=None,
        content_hash=None,
        skipped=[],
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[tuple[AsyncMongoClient[Any], Commands]]:
    listener = Commands()
    assert settings.mongodb_uri
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[listener], tz_aware=True
    )
    try:
        yield mongo, listener
    finally:
        await mongo.close()


async def test_every_read_carries_max_time_ms(
    client: tuple[AsyncMongoClient[Any], Commands], settings: Settings
) -> None:
    mongo, listener = client
    objects = MongoObjects(mongo[settings.mongodb_database], QueryLimits(seconds=7))
    for index in range(3):
        await objects.insert(_record(index, "x"))
    page = PageRequest(limit=2, offset=0)
    await objects.page(
        "ns_l",
        "bkt_l",
        query=EVERYTHING,
        sort=SortRequest("created_at", False),
        page=page,
        count=True,
    )
    await objects.stats("ns_l", "bkt_l", EVERYTHING)
    spec = Aggregation(group_by=[GroupBy("title")], metrics=[Metric("count", "n")])
    await objects.aggregate(
        "ns_l",
        "bkt_l",
        EVERYTHING,
        aggregation.plan(spec, stored_field, unwindable=aggregation_field),
    )
    reads = [(name, command) for name, command in listener.started_commands if name in READS]
    assert {name for name, _ in reads} == READS
    for name, command in reads:
        assert 0 < command.get("maxTimeMS", 0) <= 7000, (name, command)


async def test_a_query_past_its_time_limit_names_the_limit(settings: Settings) -> None:
    assert settings.mongodb_uri
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        database = mongo[settings.mongodb_database]
        for index in range(20):
            await MongoObjects(database).insert(_record(index, "x"))
        # The server's own expiry of maxTimeMS (MaxTimeMSExpired), not a client-side timeout.
        objects = MongoObjects(database, QueryLimits(seconds=0.000001))
        with pytest.raises(QueryTooExpensive, match="BUCKETD_QUERY_TIMEOUT_SECONDS"):
            await objects.stats("ns_l", "bkt_l", EVERYTHING)
    finally:
        await mongo.close()


async def test_an_answer_past_its_size_limit_is_refused_naming_it(settings: Settings) -> None:
    assert settings.mongodb_uri
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        objects = MongoObjects(mongo[settings.mongodb_database], QueryLimits(max_bytes=300_000))
        for index in range(8):
            await objects.insert(_record(index, "p" * 50_000))
        page = PageRequest(limit=100, offset=0)
        sort = SortRequest("created_at", False)
        with pytest.raises(QueryTooExpensive, match="larger than"):
            await objects.page("ns_l", "bkt_l", query=EVERYTHING, sort=sort, page=page, count=False)
        small = PageRequest(limit=2, offset=0)
        found, _ = await objects.page(
            "ns_l", "bkt_l", query=EVERYTHING, sort=sort, page=small, count=False
        )
        assert len(found) == 2
        pushed = Aggregation(
            group_by=[GroupBy("title")], metrics=[Metric("push", "all", field="payload")]
        )
        with pytest.raises(QueryTooExpensive, match="larger than"):
            await objects.aggregate(
                "ns_l",
                "bkt_l",
                EVERYTHING,
                aggregation.plan(pushed, stored_field, unwindable=aggregation_field),
            )
    finally:
        await mongo.close()


async def test_waiting_for_a_connection_does_not_count_against_the_query(
    settings: Settings,
) -> None:
    """One connection (maxPoolSize=1), held by a slow call for most of a list's time limit: the
    list waits for it, then still gets its whole limit as maxTimeMS (waiting is not the query's
    cost: had it expired, a 400 QUERY_TOO_EXPENSIVE would blame the victim)."""
    assert settings.mongodb_uri
    listener = Commands()
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(
        settings.mongodb_uri,
        event_listeners=[QueryClock(), listener],
        maxPoolSize=1,
        timeoutMS=30_000,
        tz_aware=True,
    )
    try:
        database = mongo[settings.mongodb_database]
        objects = MongoObjects(database, QueryLimits(seconds=LIMIT))
        await objects.insert(_record(1, "x"))
        # The stand-in's failCommand answers an error once it has blocked (a real server's
        # need not): one that is not retried, so the connection is given up after it.
        block = {
            "failCommands": ["insert"],
            "blockConnection": True,
            "blockTimeMS": HOLD_MS,
            "errorCode": 2,
        }
        await mongo.admin.command(
            {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": block}
        )
        listener.started_commands.clear()
        slow = asyncio.create_task(database["elsewhere"].insert_one({"slow": True}))
        await until(lambda: _sent(listener, "insert"), within=5)  # it holds the connection
        listener.started_commands.clear()
        started = time.monotonic()
        page = PageRequest(limit=2, offset=0)
        sort = SortRequest("created_at", False)
        found, total = await objects.page(
            "ns_l", "bkt_l", query=EVERYTHING, sort=sort, page=page, count=True
        )
        waited = time.monotonic() - started
        await asyncio.gather(slow, return_exceptions=True)
    finally:
        await mongo.close()
    assert len(found) == total == 1
    assert waited >= HOLD_MS / 1000 * 0.8, waited  # the list did wait behind the slow call
    sent = [command["maxTimeMS"] for name, command in listener.started_commands if name in READS]
    assert sent and min(sent) >= LIMIT * 1000 * 0.9, sent  # ... and kept its whole limit


async def _sent(listener: Commands, name: str) -> bool:
    return any(sent == name for sent, _ in listener.started_commands)
