"""An aggregation plan (domain/aggregation.py) as MongoDB pipelines: one for the groups (sorted,
limited, read as a cursor within the answer's size limit), one for how many groups there are.

Every key and `$` expression here is built from the plan's checked aliases and record paths;
the caller's values reach MongoDB as literals only.
"""

from __future__ import annotations

import itertools
from typing import Any

from bucketd.server.domain.aggregation import (
    LISTED_ITEMS,
    AggregationPlan,
    GroupKey,
    MetricPlan,
    range_label,
)

ACCUMULATORS = {
    "sum": "$sum",
    "avg": "$avg",
    "min": "$min",
    "max": "$max",
    "first": "$first",
    "last": "$last",
    "push": "$push",
    "add_to_set": "$addToSet",
}
HAVING = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte", "eq": "$eq", "ne": "$ne"}
DATE_PART = {
    "year": "$year",
    "month": "$month",
    "week": "$week",
    "day": "$dayOfMonth",
    "day_of_week": "$dayOfWeek",
    "hour": "$hour",
    "minute": "$minute",
}


def _ref(path: str) -> str:
    """A record path as a pipeline's field reference (an object's id is its document's _id)."""
    return "$_id" if path == "object_id" else f"${path}"


def _group_key(group: GroupKey) -> Any:
    value = _ref(group.path)
    if group.date_trunc is not None:
        return {"$dateTrunc": {"date": value, "unit": group.date_trunc}}
    if group.date_part is not None:
        return {DATE_PART[group.date_part]: value}
    if group.ranges is not None:
        branches = [
            {
                "case": {"$and": [{"$gte": [value, low]}, {"$lt": [value, high]}]},
                "then": range_label(low, high),
            }
            for low, high in itertools.pairwise(group.ranges.boundaries)
        ]
        return {"$switch": {"branches": branches, "default": {"$literal": group.ranges.default}}}
    return value


def _accumulator(metric: MetricPlan) -> Any:
    if metric.function == "count":
        return {"$sum": 1}
    if metric.function == "count_distinct":
        return {"$addToSet": _ref(metric.path or "")}
    return {ACCUMULATORS[metric.function]: _ref(metric.path or "")}


def _grouped(plan: AggregationPlan) -> list[Any]:
    """The stages after the scoped $match: unwind, group, count the distinct, cut the lists to
    LISTED_ITEMS, having."""
    stages: list[Any] = []
    if plan.unwind:
        stages.append({"$unwind": f"${plan.unwind}"})
    keys = {group.alias: _group_key(group) for group in plan.groups}
    metrics = {metric.alias: _accumulator(metric) for metric in plan.metrics}
    stages.append({"$group": {"_id": keys, **metrics}})
    finished: dict[str, Any] = {}
    for m in plan.metrics:
        if m.function == "count_distinct":
            finished[m.alias] = {"$size": f"${m.alias}"}
        elif m.function in {"push", "add_to_set"}:
            finished[m.alias] = {"$slice": [f"${m.alias}", LISTED_ITEMS]}
    if finished:
        stages.append({"$addFields": finished})
    stages += [{"$match": {h.alias: {HAVING[h.operator]: h.value}}} for h in plan.having]
    return stages


def groups_pipeline(plan: AggregationPlan) -> list[Any]:
    """The groups, sorted (ties by key) and limited."""
    sort_key = f"_id.{plan.sort_by}" if plan.sort_by_group else plan.sort_by
    direction = -1 if plan.descending else 1
    return [*_grouped(plan), {"$sort": {sort_key: direction, "_id": 1}}, {"$limit": plan.limit}]


def count_pipeline(plan: AggregationPlan) -> list[Any]:
    """How many groups there are (before the limit)."""
    return [*_grouped(plan), {"$count": "groups"}]


def answer(rows: list[dict[str, Any]], plan: AggregationPlan) -> list[dict[str, Any]]:
    """[{group, metrics}] from the groups' documents."""
    aliases = [m.alias for m in plan.metrics]
    return [
        {"group": row["_id"], "metrics": {alias: row.get(alias) for alias in aliases}}
        for row in rows
    ]
