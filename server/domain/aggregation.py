"""The aggregate-objects request checked into a plan (what to group, count and keep), which
storage/ runs as one MongoDB pipeline and the unit tests' fakes run in memory.

Only what the public docs document gets through: the functions, the having operators, the date
units, and field paths that resolve to record fields (user fields, status, created_at,
updated_at, key_prefix, blobs.*). Aliases are plain identifiers; values are literals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bucketd.server.errors import InvalidArgument

FUNCTIONS = frozenset({"sum", "avg", "min", "max", "first", "last", "push", "add_to_set"})
COUNTING = ("count", "count_distinct")
HAVING = ("gt", "gte", "lt", "lte", "eq", "ne")
DATE_TRUNC = ("year", "quarter", "month", "week", "day", "hour", "minute")
DATE_PART = ("year", "month", "week", "day", "day_of_week", "hour", "minute")
DATE_FIELDS = {"created_at", "updated_at"}
MAX_GROUPS = 10
MAX_METRICS = 20
MAX_BOUNDARIES = 100
LIMIT = (100, 1000)
# push and add_to_set answer at most this many items per group (the answer stays bounded).
LISTED_ITEMS = 100
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
    """The request, as the caller wrote it (public field names)."""

    group_by: list[GroupBy]
    metrics: list[Metric]
    having: list[Having] = field(default_factory=list)
    unwind: str | None = None
    range_buckets: list[RangeBuckets] = field(default_factory=list)
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = None


@dataclass(frozen=True)
class Ranges:
    """[b0, b1), [b1, b2)...: a value falls in the range labelled "b0-b1", else `default`."""

    boundaries: tuple[float, ...]
    default: str

    def label(self, value: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            for low, high in zip(self.boundaries, self.boundaries[1:], strict=False):
                if low <= value < high:
                    return range_label(low, high)
        return self.default


def range_label(low: float, high: float) -> str:
    return f"{low:g}-{high:g}"


@dataclass(frozen=True)
class GroupKey:
    """A group key over a record field: as it is, truncated to a date unit, one part of a
    date, or the label of the range it falls in."""

    alias: str
    path: str
    date_trunc: str | None = None
    date_part: str | None = None
    ranges: Ranges | None = None


@dataclass(frozen=True)
class MetricPlan:
    alias: str
    function: str  # count, count_distinct, or one of FUNCTIONS
    path: str | None  # None for count


@dataclass(frozen=True)
class HavingPlan:
    alias: str
    operator: str
    value: Any


@dataclass(frozen=True, kw_only=True)
class AggregationPlan:
    """What to run: unwind, group, metrics, having, then the sorted groups up to `limit` and
    how many groups there were."""

    unwind: str | None
    groups: tuple[GroupKey, ...]
    metrics: tuple[MetricPlan, ...]
    having: tuple[HavingPlan, ...]
    sort_by: str  # a metric alias, or a group alias when sort_by_group
    sort_by_group: bool
    descending: bool
    limit: int


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
    if not _ALIAS.fullmatch(alias):
        raise _invalid(where, f"{alias!r} is not an alias: letters, digits and _ (up to 64)")
    return alias


def _ranges(spec: RangeBuckets, where: str) -> Ranges:
    bounds = spec.boundaries
    if not all(math.isfinite(bound) for bound in bounds):
        raise _invalid(f"{where}.boundaries", "give finite numbers (not Infinity or NaN)")
    if not 2 <= len(bounds) <= MAX_BOUNDARIES or bounds != sorted(set(bounds)):
        raise _invalid(f"{where}.boundaries", f"give 2 to {MAX_BOUNDARIES} increasing numbers")
    default = spec.default_bucket if spec.default_bucket is not None else "other"
    return Ranges(tuple(bounds), default)


def _group_key(
    index: int, group: GroupBy, resolve: FieldResolver, ranges: dict[str, Ranges]
) -> GroupKey:
    where = f"group_by[{index}]"
    path = _path(f"{where}.field", group.field, resolve)
    alias = _alias(f"{where}.alias", group.alias or group.field.replace(".", "_"))
    dated = group.date_trunc is not None or group.date_part is not None
    if dated and group.field not in DATE_FIELDS:
        raise _invalid(
            f"{where}.field", "date_trunc and date_part apply to created_at and updated_at"
        )
    if group.date_trunc is not None and group.date_trunc not in DATE_TRUNC:
        raise _invalid(f"{where}.date_trunc", f"use one of {', '.join(DATE_TRUNC)}")
    if group.date_part is not None and group.date_part not in DATE_PART:
        raise _invalid(f"{where}.date_part", f"use one of {', '.join(DATE_PART)}")
    if group.date_trunc is not None:
        return GroupKey(alias, path, date_trunc=group.date_trunc)
    if group.date_part is not None:
        return GroupKey(alias, path, date_part=group.date_part)
    return GroupKey(alias, path, ranges=ranges.get(group.field))


def _metric(index: int, metric: Metric, resolve: FieldResolver) -> MetricPlan:
    where = f"aggregations[{index}]"
    alias = _alias(f"{where}.alias", metric.alias)
    if metric.function == "count":
        return MetricPlan(alias, "count", None)
    if metric.function == "count_distinct":
        name = metric.distinct_field or metric.field or ""
        return MetricPlan(alias, "count_distinct", _path(f"{where}.distinct_field", name, resolve))
    if metric.function not in FUNCTIONS:
        allowed = ", ".join([*COUNTING, *sorted(FUNCTIONS)])
        raise _invalid(f"{where}.function", f"{metric.function!r} is not one of {allowed}")
    return MetricPlan(alias, metric.function, _path(f"{where}.field", metric.field or "", resolve))


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


def _having(spec: Aggregation, metrics: set[str]) -> tuple[HavingPlan, ...]:
    plans = []
    for i, having in enumerate(spec.having):
        where = f"having[{i}]"
        if having.field not in metrics:
            raise _invalid(f"{where}.field", f"{having.field!r} is not a metric alias")
        if having.operator not in HAVING:
            raise _invalid(f"{where}.operator", f"use one of {', '.join(HAVING)}")
        if isinstance(having.value, (dict, list)):
            raise _invalid(f"{where}.value", "compare to a string, number, boolean or null")
        plans.append(HavingPlan(having.field, having.operator, having.value))
    return tuple(plans)


def plan(
    spec: Aggregation, resolve: FieldResolver, *, unwindable: FieldResolver | None = None
) -> AggregationPlan:
    """The checked plan of `spec`; InvalidArgument names the part at fault. `resolve` maps the
    fields groups and metrics read (public ones only: what they answer is shown to the caller);
    `unwindable` the lists `unwind` may take (default: `resolve`'s)."""
    limit = _check_sizes(spec)
    unwind = _path("unwind", spec.unwind, unwindable or resolve) if spec.unwind else None
    ranges = {
        r.field: _ranges(r, f"range_buckets[{i}]")
        for i, r in enumerate(spec.range_buckets)
        if _path(f"range_buckets[{i}].field", r.field, resolve)
    }
    groups = tuple(_group_key(i, g, resolve, ranges) for i, g in enumerate(spec.group_by))
    metrics = tuple(_metric(i, m, resolve) for i, m in enumerate(spec.metrics))
    group_aliases = {g.alias for g in groups}
    metric_aliases = {m.alias for m in metrics}
    if len(group_aliases) != len(groups):
        raise _invalid("group_by", "two group keys share an alias")
    clash = group_aliases & metric_aliases or "_id" in metric_aliases
    if len(metric_aliases) != len(metrics) or clash:
        raise _invalid("aggregations", "every alias must be unique among group keys and metrics")
    sort_by = spec.sort_by or metrics[0].alias
    if sort_by not in metric_aliases | group_aliases:
        raise _invalid("sort_by", f"{sort_by!r} is not a group or metric alias")
    return AggregationPlan(
        unwind=unwind,
        groups=groups,
        metrics=metrics,
        having=_having(spec, metric_aliases),
        sort_by=sort_by,
        sort_by_group=sort_by not in metric_aliases,
        descending=spec.descending,
        limit=limit,
    )
