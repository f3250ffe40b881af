"""The query model means the same in MongoDB (storage/) and in the unit tests' fakes.

The same objects go into MongoDB through MongoObjects and into FakeObjects; the same filters,
sorts, pages and aggregations (built from public requests by the domain's own translators) must
answer the same there and here. A fake that drifted from the store would pass unit tests that
the real service fails: this test is what keeps the use cases' unit tests honest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bucketd.server.domain import aggregation
from bucketd.server.domain.aggregation import Aggregation, GroupBy, Having, Metric, RangeBuckets
from bucketd.server.domain.filters import to_filter
from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import Blob, ObjectRecord
from bucketd.server.domain.query import Filter
from bucketd.server.domain.status import Status
from bucketd.server.domain.user_json import json_safe
from bucketd.server.services.object_reads import aggregation_field, filter_field, stored_field
from bucketd.server.settings import Settings
from bucketd.server.storage.mongo import open_database
from bucketd.server.storage.objects import MongoObjects
from tests.unit.fakes import FakeObjects

START = datetime(2026, 3, 7, 22, 30, tzinfo=UTC)  # a Saturday evening: weeks and days differ
NS, BUCKET = "ns_q", "bkt_q"


def _blob(index: int, mime: str, size: int) -> Blob:
    return Blob(
        blob_id=f"blob_{index}",
        property="doc",
        type="pdf",
        key_prefix=None,
        url="s3://x/y",
        content_id=f"cnt_{index}",
        storage_key=f"k{index}",
        filename=f"f{index}.pdf",
        size_bytes=size,
        mime_type=mime,
        sha256=f"{index:064x}",
    )


def _records() -> list[ObjectRecord]:
    rows: list[tuple[str, Any, list[str], Status, int]] = [
        ("Red shoe", 5, ["a", "b"], Status.PENDING, 1),
        ("red hat", 12, ["b"], Status.PENDING, 2),
        ("Blue shoe", 12.5, [], Status.FAILED, 0),
        ("green", None, ["a"], Status.PENDING, 1),
        ("Shoe box", -3, ["c", "a"], Status.PROCESSING, 3),
        ("x.y", 40, ["b", "c"], Status.PENDING, 1),
    ]
    records = []
    for index, (title, score, tags, status, blobs) in enumerate(rows):
        metadata: dict[str, Any] = {"title": title, "tags": tags, "nested": {"n": index % 3}}
        if score is not None:
            metadata["score"] = score
        created = START + timedelta(hours=7 * index)
        records.append(
            ObjectRecord(
                object_id=f"obj_{index:02d}",
                namespace_id=NS,
                bucket_id=BUCKET,
                key_prefix=f"/p/{index % 2}",
                blobs=[
                    _blob(index * 10 + i, "application/pdf" if i else "image/png", 100 * (i + 1))
                    for i in range(blobs)
                ],
                metadata=metadata,
                status=status,
                error=None,
                content_hash=None,
                skipped=[],
                created_at=created,
                updated_at=created + timedelta(minutes=index),
            )
        )
    return records


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[tuple[MongoObjects, FakeObjects]]:
    assert settings.mongodb_uri
    async with open_database(settings.mongodb_uri, settings.mongodb_database) as database:
        mongo, fake = MongoObjects(database), FakeObjects([])
        for record in _records():
            await mongo.insert(record)
            await fake.insert(record)
        yield mongo, fake


def _conditions(*items: tuple[str, str, Any]) -> dict[str, Any]:
    return {"AND": [{"field": f, "operator": o, "value": v} for f, o, v in items]}


FILTERS: list[dict[str, Any]] = [
    {},
    {"title": "red shoe"},  # shorthand: case-insensitive equality
    {"title": "Red shoe", "case_sensitive": True},
    {"status": "PENDING", "metadata.nested.n": 1},
    _conditions(("score", "gt", 5)),
    _conditions(("score", "gte", 12), ("score", "lt", 40)),
    _conditions(("score", "ne", 12)),
    _conditions(("score", "in", [5, 40])),
    _conditions(("score", "nin", [5, 40])),
    _conditions(("score", "exists", False)),
    _conditions(("score", "is_null", True)),
    _conditions(("score", "is_null", False)),
    _conditions(("tags", "eq", "a")),
    _conditions(("tags", "in", ["c"])),
    _conditions(("title", "contains", "SHOE")),
    _conditions(("title", "starts_with", "red")),
    _conditions(("title", "ends_with", "Y")),
    _conditions(("title", "regex", "^[a-z]+ [a-z]+$")),
    {"OR": [{"field": "title", "operator": "eq", "value": "green"}, {"score": 40}]},
    {"NOT": [{"field": "status", "operator": "eq", "value": "PENDING"}]},
    {"AND": [{"OR": [{"score": 5}, {"score": 12}]}, {"NOT": [{"key_prefix": "/p/1"}]}]},
    _conditions(("blobs.details.mime_type", "eq", "application/pdf")),
    _conditions(("blobs.details.size_bytes", "gte", 300)),
    _conditions(("blobs.details.hash", "eq", f"sha256:{10:064x}")),
    _conditions(("created_at", "gt", START + timedelta(hours=10))),
    _conditions(("object_id", "in", ["obj_01", "obj_04", "obj_99"])),
]
SORTS = [
    SortRequest("created_at", descending=False),
    SortRequest("metadata.score", descending=True),
    SortRequest("metadata.title", descending=False),
    SortRequest("key_prefix", descending=True),
]


async def _pages(store: Any, query: Filter, sort: SortRequest) -> list[list[str]]:
    pages = []
    for offset in (0, 2, 4):
        found, total = await store.page(
            NS, BUCKET, query=query, sort=sort, page=PageRequest(2, offset), count=True
        )
        pages.append([r.object_id for r in found] + [f"total={total}"])
    return pages


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f)[:60] for f in FILTERS])
async def test_filters_sorts_and_pages_answer_alike(
    stores: tuple[MongoObjects, FakeObjects], filters: dict[str, Any]
) -> None:
    mongo, fake = stores
    query = to_filter(filters, filter_field)
    for sort in SORTS:
        assert await _pages(mongo, query, sort) == await _pages(fake, query, sort), sort
    assert await mongo.stats(NS, BUCKET, query) == await fake.stats(NS, BUCKET, query)


AGGREGATIONS = [
    Aggregation(
        group_by=[GroupBy("status")],
        metrics=[
            Metric("count", "n"),
            Metric("sum", "total", field="score"),
            Metric("avg", "mean", field="score"),
            Metric("min", "low", field="score"),
            Metric("max", "high", field="title"),
            Metric("count_distinct", "distinct", field="nested.n"),
        ],
        sort_by="n",
    ),
    Aggregation(
        group_by=[GroupBy("tags")],
        metrics=[Metric("count", "n"), Metric("add_to_set", "who", field="title")],
        unwind="tags",
        having=[Having("n", "gte", 2)],
        sort_by="tags",
        descending=False,
    ),
    Aggregation(
        group_by=[GroupBy("score", alias="band")],
        metrics=[Metric("count", "n")],
        range_buckets=[RangeBuckets("score", [0, 10, 20], default_bucket="else")],
        sort_by="band",
        descending=False,
    ),
    Aggregation(
        group_by=[
            GroupBy("created_at", alias="day", date_trunc="day"),
            GroupBy("updated_at", alias="weekday", date_part="day_of_week"),
        ],
        metrics=[Metric("count", "n"), Metric("push", "titles", field="title")],
        sort_by="day",
        descending=False,
        limit=3,
    ),
    Aggregation(
        group_by=[
            GroupBy("created_at", alias="week", date_trunc="week"),
            GroupBy("created_at", alias="w", date_part="week"),
        ],
        metrics=[Metric("count", "n")],
        sort_by="week",
    ),
]


@pytest.mark.parametrize("spec", AGGREGATIONS, ids=[str(i) for i in range(len(AGGREGATIONS))])
async def test_aggregations_answer_alike(
    stores: tuple[MongoObjects, FakeObjects], spec: Aggregation
) -> None:
    mongo, fake = stores
    plan = aggregation.plan(spec, stored_field, unwindable=aggregation_field)
    query = to_filter({"NOT": [{"status": "FAILED"}]}, filter_field)
    from_mongo = await mongo.aggregate(NS, BUCKET, query, plan)
    from_fake = await fake.aggregate(NS, BUCKET, query, plan)
    assert _unordered_sets(from_mongo, plan) == _unordered_sets(from_fake, plan)
    assert from_mongo[1] > 0


def _unordered_sets(answer: tuple[list[dict[str, Any]], int], plan: Any) -> Any:
    """The answer as JSON, with add_to_set lists sorted: MongoDB promises them no order."""
    rows, total = json_safe(answer)
    sets = [m.alias for m in plan.metrics if m.function == "add_to_set"]
    for row in rows:
        for alias in sets:
            row["metrics"][alias] = sorted(row["metrics"][alias], key=repr)
    return rows, total
