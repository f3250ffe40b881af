"""The query model (server/domain/query.py) evaluated in memory, as MongoDB evaluates it.

tests/integration/test_queries.py runs the same filters, sorts, pages and aggregations here and
through storage/ against the MongoDB wire server, and holds the answers equal: the fakes keep
the store's semantics, not a reading of them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.query import AllOf, AnyOf, Filter, NoneOf, Op, Where


def _step(item: Any, name: str) -> tuple[bool, Any]:
    if isinstance(item, Mapping):
        return (True, item[name]) if name in item else (False, None)
    if dataclasses.is_dataclass(item) and hasattr(item, name):
        return True, getattr(item, name)
    return False, None


def values(record: Any, path: str) -> list[Any]:
    """Every value at `path` (lists crossed item by item, as MongoDB does); [] when missing."""
    current = [record]
    for name in path.split("."):
        found = []
        for item in current:
            present, value = _step(item, name)
            if present:
                found.extend(value if isinstance(value, list) else [value])
        current = found
    return current


def value(record: Any, path: str) -> Any:
    """The value at `path` as MongoDB's `$path` reads it: a list where the path crosses one."""
    current = record
    for name in path.split("."):
        if isinstance(current, list):
            current = [step[1] for item in current if (step := _step(item, name))[0]]
            continue
        present, current = _step(current, name)
        if not present:
            return None
    return current


def compare(op: Op, left: Any, right: Any) -> bool:
    tests: dict[Op, Callable[[Any, Any], bool]] = {
        Op.GT: lambda a, b: a > b,
        Op.GTE: lambda a, b: a >= b,
        Op.LT: lambda a, b: a < b,
        Op.LTE: lambda a, b: a <= b,
    }
    if left is None or right is None or isinstance(left, bool) != isinstance(right, bool):
        return False
    try:
        return tests[op](left, right)
    except TypeError:  # MongoDB compares within a type only
        return False


def _where(where: Where, record: Any) -> bool:  # noqa: PLR0911
    found = values(record, where.field)
    if where.op is Op.EQ:
        return where.value in found or (where.value is None and not found)
    if where.op is Op.NE:
        return not _where(Where(where.field, Op.EQ, where.value), record)
    if where.op is Op.IN:
        return any(v in where.value for v in found) or (None in where.value and not found)
    if where.op is Op.NIN:
        return not _where(Where(where.field, Op.IN, where.value), record)
    if where.op is Op.EXISTS:
        return bool(found) == bool(where.value)
    if where.op is Op.MATCHES:
        flags = 0 if where.case_sensitive else re.IGNORECASE
        return any(isinstance(v, str) and re.search(where.value, v, flags) for v in found)
    return any(compare(where.op, v, where.value) for v in found)


def matches(query: Filter, record: Any) -> bool:
    if isinstance(query, Where):
        return _where(query, record)
    outcomes = [matches(part, record) for part in query.parts]
    if isinstance(query, AllOf):
        return all(outcomes)
    if isinstance(query, AnyOf):
        return any(outcomes)
    assert isinstance(query, NoneOf)
    return not any(outcomes)


def mongo_order(item: Any) -> tuple[int, Any]:
    """MongoDB's order across types, roughly: missing and null first, then numbers, strings,
    dates."""
    if item is None:
        return (0, 0)
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return (1, item)
    if isinstance(item, str):
        return (2, item)
    if isinstance(item, datetime):
        return (4, item)
    return (3, repr(item))


def page_of[R](
    records: Iterable[R], query: Filter, sort: SortRequest, page: PageRequest, id_field: str
) -> tuple[list[R], int]:
    """The page `query` matches in `sort` order (ties by id), and how many match in all."""
    found = [r for r in records if matches(query, r)]

    def key(record: R) -> tuple[tuple[int, Any], tuple[int, Any]]:
        first = values(record, sort.field)
        return mongo_order(min(first, key=mongo_order) if first else None), mongo_order(
            value(record, id_field)
        )

    found.sort(key=key, reverse=sort.descending)
    return found[page.offset : page.offset + page.limit], len(found)


def truncate(moment: datetime, unit: str) -> datetime:  # noqa: PLR0911
    """$dateTrunc with MongoDB's defaults (weeks start on Sunday)."""
    if unit == "year":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "quarter":
        month = (moment.month - 1) // 3 * 3 + 1
        return moment.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - timedelta(days=(moment.weekday() + 1) % 7)
    if unit == "day":
        return day
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def date_part(moment: datetime, part: str) -> int:
    """$year, $month, $week (Sunday-based, from 0), $dayOfMonth, $dayOfWeek (1 = Sunday)..."""
    parts = {
        "year": moment.year,
        "month": moment.month,
        "week": int(moment.strftime("%U")),
        "day": moment.day,
        "day_of_week": moment.isoweekday() % 7 + 1,
        "hour": moment.hour,
        "minute": moment.minute,
    }
    return parts[part]
