"""An aggregation plan (server/domain/aggregation.py) run in memory, as the MongoDB pipeline of
storage/aggregation.py runs it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bucketd.server.domain.aggregation import LISTED_ITEMS, AggregationPlan, GroupKey, MetricPlan
from bucketd.server.domain.query import Op
from tests.unit.fakes.query import compare, date_part, mongo_order, truncate, value


def _unwound(records: Iterable[Any], path: str | None) -> list[dict[str, Any]]:
    """Each record as a document; with `path`, one document per item of that list."""
    docs = [
        dataclasses.asdict(r)
        if dataclasses.is_dataclass(r) and not isinstance(r, type)
        else dict(r)
        for r in records
    ]
    if path is None:
        return docs
    unwound = []
    for doc in docs:
        items = value(doc, path)
        for item in items if isinstance(items, list) else ([] if items is None else [items]):
            copy = dict(doc)
            *parents, last = path.split(".")
            target = copy
            for name in parents:
                target[name] = dict(target[name])
                target = target[name]
            target[last] = item
            unwound.append(copy)
    return unwound


def _key(doc: dict[str, Any], group: GroupKey) -> Any:
    raw = value(doc, group.path)
    if group.date_trunc is not None:
        return truncate(raw, group.date_trunc) if isinstance(raw, datetime) else None
    if group.date_part is not None:
        return date_part(raw, group.date_part) if isinstance(raw, datetime) else None
    if group.ranges is not None:
        return group.ranges.label(raw)
    return raw


def _numbers(found: list[Any]) -> list[float]:
    return [v for v in found if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _metric(docs: list[dict[str, Any]], metric: MetricPlan) -> Any:  # noqa: PLR0911
    if metric.function == "count":
        return len(docs)
    assert metric.path is not None
    found = [value(doc, metric.path) for doc in docs]
    present = [v for v in found if v is not None]
    if metric.function == "count_distinct":
        return len({repr(v) for v in present})
    if metric.function == "sum":
        return sum(_numbers(found))
    if metric.function == "avg":
        numbers = _numbers(found)
        return sum(numbers) / len(numbers) if numbers else None
    if metric.function in {"min", "max"}:
        ordered = sorted(present, key=mongo_order)
        return (ordered[0] if metric.function == "min" else ordered[-1]) if ordered else None
    if metric.function == "first":
        return found[0]
    if metric.function == "last":
        return found[-1]
    if metric.function == "push":
        return present[:LISTED_ITEMS]
    unique: dict[str, Any] = {}  # add_to_set: MongoDB promises no order
    for item in present:
        unique.setdefault(repr(item), item)
    return list(unique.values())[:LISTED_ITEMS]


def _kept(metrics: dict[str, Any], plan: AggregationPlan) -> bool:
    for having in plan.having:
        got, wanted = metrics[having.alias], having.value
        if having.operator == "eq" and got != wanted:
            return False
        if having.operator == "ne" and got == wanted:
            return False
        if having.operator not in {"eq", "ne"} and not compare(Op(having.operator), got, wanted):
            return False
    return True


def aggregate(records: Iterable[Any], plan: AggregationPlan) -> tuple[list[dict[str, Any]], int]:
    """([{group, metrics}], total_groups)."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for doc in _unwound(records, plan.unwind):
        key = {group.alias: _key(doc, group) for group in plan.groups}
        groups.setdefault(repr(sorted(key.items())), (key, []))[1].append(doc)
    rows = []
    for key, docs in groups.values():
        metrics = {metric.alias: _metric(docs, metric) for metric in plan.metrics}
        if _kept(metrics, plan):
            rows.append({"group": key, "metrics": metrics})
    where = "group" if plan.sort_by_group else "metrics"
    rows.sort(key=lambda row: repr(sorted(row["group"].items())))
    rows.sort(key=lambda row: mongo_order(row[where][plan.sort_by]), reverse=plan.descending)
    return rows[: plan.limit], len(rows)
