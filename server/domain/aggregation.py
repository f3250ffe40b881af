"""The aggregate-objects request translated to a MongoDB aggregation pipeline.

Only what the public docs document gets through: the functions, the having operators, the date
units, and field paths that resolve to stored fields (user fields, status, created_at,
updated_at, key_prefix, blobs.*). Aliases are plain identifiers. No string the caller sends
becomes a pipeline key or a `$` expression on its own; values reach MongoDB as literals.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bucketd.server.errors import InvalidArgument

FUNCTIONS = {
    "sum": "$sum",
    "avg": "$avg",
    "min": "$min",
    "max": "$max",
    "first": "$first",
    "last": "$last",
    "push": "$push",
    "add_to_set": "$addToSet",
}
COUNTING = {"count", "count_distinct"}
HAVING = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte", "eq": "$eq", "ne": "$ne"}
DATE_TRUNC = {"year", "quarter", "month", "week", "day", "hour", "minute"}
DATE_PART = {
    "year": "$year",
    "month": "$month",
    "week": "$week",
    "day": "$dayOfMonth",
    "day_of_week": "$dayOfWeek",
    "hour": "$hour",
    "minute": "$minute",
}
DATE_FIELDS = {"created_at", "updated_at"}
MAX_GROUPS = 10
MAX_METRICS = 20
MAX_BOUNDARIES = 100
LIMIT = (100, 1000)
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

FieldResolver = Callable[[str], str | None]


@dataclass(frozen=True)
class GroupBy:
    field: str
    alias: str | None = None
    date_trunc: str | None = None
    date_part: str | None = None


@dataclass(frozen=True)
class Metric:
    function: str
    alias: str
    field: str | None = None
    distinct_field: str | None = None


@dataclass(frozen=True)
class Having:
    field: str
    operator: str
    value: Any


@dataclass(frozen=True)
class RangeBuckets:
    field: str
    boundaries: list[float]
    default_bucket: str | None = None


@dataclass(frozen=True, kw_only=True)
class Aggregation:
    group_by: list[GroupBy]
    metrics: list[Metric]
    having: list[Having] = field(default_factory=list)
    unwind: str | None = None
    range_buckets: list[RangeBuckets] = field(default_factory=list)
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = None


def _invalid(where: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: {message}", details={"field": where})


def _path(where: str, name: str, resolve: FieldResolver) -> str:
    stored = resolve(name) if name else None
    if stored is None:
        raise _invalid(
            where,
            f"cannot aggregate on {name!r}; use a user field, status, created_at, updated_at, "
            "key_prefix or blobs.*",
        )
    return stored


def _alias(where: str, alias: str) -> str:
    if not _ALIAS.match(alias):
        raise _invalid(where, f"{alias!r} is not an alias: letters, digits and _ (up to 64)")
    return alias


def _label(low: float, high: float) -> str:
    return f"{low:g}-{high:g}"


def _ranges(spec: RangeBuckets, path: str, where: str) -> dict[str, Any]:
    bounds = spec.boundaries
    if not 2 <= len(bounds) <= MAX_BOUNDARIES or bounds != sorted(set(bounds)):
        raise _invalid(f"{where}.boundaries", f"give 2 to {MAX_BOUNDARIES} increasing numbers")
    branches = [
        {
            "case": {"$and": [{"$gte": [f"${path}", low]}, {"$lt": [f"${path}", high]}]},
            "then": _label(low, high),
        }
        for low, high in itertools.pairwise(bounds)
    ]
    default = spec.default_bucket if spec.default_bucket is not None else "other"
    return {"$switch": {"branches": branches, "default": {"$literal": default}}}


def _group_key(
    index: int, group: GroupBy, resolve: FieldResolver, ranges: dict[str, dict[str, Any]]
) -> tuple[str, Any]:
    where = f"group_by[{index}]"
    path = _path(f"{where}.field", group.field, resolve)
    alias = _alias(f"{where}.alias", group.alias or group.field.replace(".", "_"))
    dated = group.date_trunc is not None or group.date_part is not None
    if dated and group.field not in DATE_FIELDS:
        raise _invalid(
            f"{where}.field", "date_trunc and date_part apply to created_at and updated_at"
        )
    if group.date_trunc is not None:
        if group.date_trunc not in DATE_TRUNC:
            raise _invalid(f"{where}.date_trunc", f"use one of {', '.join(sorted(DATE_TRUNC))}")
        return alias, {"$dateTrunc": {"date": f"${path}", "unit": group.date_trunc}}
    if group.date_part is not None:
        if group.date_part not in DATE_PART:
            raise _invalid(f"{where}.date_part", f"use one of {', '.join(DATE_PART)}")
        return alias, {DATE_PART[group.date_part]: f"${path}"}
    if group.field in ranges:
        return alias, ranges[group.field]
    return alias, f"${path}"


def _accumulator(index: int, metric: Metric, resolve: FieldResolver) -> Any:
    where = f"aggregations[{index}]"
    if metric.function == "count":
        return {"$sum": 1}
    if metric.function == "count_distinct":
        name = metric.distinct_field or metric.field or ""
        return {"$addToSet": f"${_path(f'{where}.distinct_field', name, resolve)}"}
    if metric.function not in FUNCTIONS:
        allowed = ", ".join([*sorted(COUNTING), *FUNCTIONS])
        raise _invalid(f"{where}.function", f"{metric.function!r} is not one of {allowed}")
    return {FUNCTIONS[metric.function]: f"${_path(f'{where}.field', metric.field or '', resolve)}"}


def _literal(where: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        raise _invalid(where, "compare to a string, number, boolean or null")
    return value


def _check_sizes(spec: Aggregation) -> int:
    """The limit, once group_by, aggregations and limit are within bounds."""
    if not 1 <= len(spec.group_by) <= MAX_GROUPS:
        raise _invalid("group_by", f"give 1 to {MAX_GROUPS} group keys")
    if not 1 <= len(spec.metrics) <= MAX_METRICS:
        raise _invalid("aggregations", f"give 1 to {MAX_METRICS} aggregations")
    limit = LIMIT[0] if spec.limit is None else spec.limit
    if not 1 <= limit <= LIMIT[1]:
        raise _invalid("limit", f"must be between 1 and {LIMIT[1]}, got {limit}")
    return limit


def _having(spec: Aggregation, metrics: dict[str, Any]) -> list[Any]:
    stages = []
    for i, having in enumerate(spec.having):
        where = f"having[{i}]"
        if having.field not in metrics:
            raise _invalid(f"{where}.field", f"{having.field!r} is not a metric alias")
        if having.operator not in HAVING:
            raise _invalid(f"{where}.operator", f"use one of {', '.join(HAVING)}")
        value = _literal(f"{where}.value", having.value)
        stages.append({"$match": {having.field: {HAVING[having.operator]: value}}})
    return stages


def _sort_key(spec: Aggregation, keys: dict[str, Any], metrics: dict[str, Any]) -> str:
    sort_by = spec.sort_by or spec.metrics[0].alias
    if sort_by in metrics:
        return sort_by
    if sort_by in keys:
        return f"_id.{sort_by}"
    raise _invalid("sort_by", f"{sort_by!r} is not a group or metric alias")


def pipeline(spec: Aggregation, resolve: FieldResolver) -> list[Any]:
    """The stages after the (scoped) $match: unwind, group, count the distinct, having, then
    one $facet that answers the sorted, limited groups and how many there were."""
    limit = _check_sizes(spec)
    stages: list[Any] = []
    if spec.unwind:
        stages.append({"$unwind": f"${_path('unwind', spec.unwind, resolve)}"})
    ranges = {
        r.field: _ranges(
            r, _path(f"range_buckets[{i}].field", r.field, resolve), f"range_buckets[{i}]"
        )
        for i, r in enumerate(spec.range_buckets)
    }
    keys = dict(_group_key(i, g, resolve, ranges) for i, g in enumerate(spec.group_by))
    if len(keys) != len(spec.group_by):
        raise _invalid("group_by", "two group keys share an alias")
    metrics = {
        _alias(f"aggregations[{i}].alias", m.alias): _accumulator(i, m, resolve)
        for i, m in enumerate(spec.metrics)
    }
    if len(metrics) != len(spec.metrics) or set(metrics) & set(keys) or "_id" in metrics:
        raise _invalid("aggregations", "every alias must be unique among group keys and metrics")
    stages.append({"$group": {"_id": keys, **metrics}})
    distinct = {
        m.alias: {"$size": f"${m.alias}"} for m in spec.metrics if m.function == "count_distinct"
    }
    if distinct:
        stages.append({"$addFields": distinct})
    stages += _having(spec, metrics)
    direction = -1 if spec.descending else 1
    sorting = {_sort_key(spec, keys, metrics): direction, "_id": 1}
    stages.append(
        {
            "$facet": {
                "results": [{"$sort": sorting}, {"$limit": limit}],
                "total": [{"$count": "groups"}],
            }
        }
    )
    return stages


def results(rows: list[dict[str, Any]], spec: Aggregation) -> tuple[list[dict[str, Any]], int]:
    """([{group, metrics}], total_groups) from the $facet's one document."""
    facet = rows[0] if rows else {"results": [], "total": []}
    aliases = [m.alias for m in spec.metrics]
    answered = [
        {"group": row["_id"], "metrics": {alias: row.get(alias) for alias in aliases}}
        for row in facet["results"]
    ]
    total = facet["total"][0]["groups"] if facet["total"] else 0
    return answered, total
