"""The reference's list filters (section 1.5) translated to a MongoDB query document.

Two forms: the LogicalOperator `{"AND": [...], "OR": [...], "NOT": [...], "case_sensitive": false}`
whose items are nested operators or `{field, operator, value}` conditions, and the shorthand
`{"status": "PENDING", "metadata.campaign": "x"}` (each key equals its value). Only fields that
the caller's `resolve` accepts may be filtered on; the query is bounded in size and depth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bucketd.server.domain.listing import ListQuery
from bucketd.server.errors import InvalidArgument

Query = dict[str, Any]


@dataclass(frozen=True)
class StoredAs:
    """A field stored in another form than it is shown: `stored` turns a shown value into the
    stored one (blobs.details.hash "sha256:<hex>" is stored as the bare hex)."""

    path: str
    stored: Callable[[Any], Any]


FieldResolver = Callable[[str], str | StoredAs | None]

LOGICAL_KEYS = frozenset({"AND", "OR", "NOT"})
MAX_CONDITIONS = 50
MAX_DEPTH = 5
MAX_PATTERN_LENGTH = 256


class _Budget:
    def __init__(self) -> None:
        self.conditions = 0

    def spend(self) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidArgument(f"filters: at most {MAX_CONDITIONS} conditions")


def _pattern(value: Any, operator: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"filters: operator {operator} needs a string value")
    if len(value) > MAX_PATTERN_LENGTH:
        raise InvalidArgument(f"filters: {operator} values are at most {MAX_PATTERN_LENGTH} chars")
    return value


def _regex(pattern: str, case_sensitive: bool) -> dict[str, Any]:
    return {"$regex": pattern} if case_sensitive else {"$regex": pattern, "$options": "i"}


def _scalar(value: Any, operator: str) -> Any:
    """A JSON scalar: objects never reach MongoDB, where they would be read as operators."""
    if isinstance(value, (dict, list)):
        raise InvalidArgument(
            f"filters: operator {operator} needs a string, number, boolean or null value"
        )
    return value


def _list(value: Any, operator: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(f"filters: operator {operator} needs a list value")
    return [_scalar(item, operator) for item in value]


def _operator_query(operator: str, value: Any, case_sensitive: bool) -> Any:  # noqa: PLR0911
    comparisons = {"ne": "$ne", "gt": "$gt", "lt": "$lt", "gte": "$gte", "lte": "$lte"}
    if operator == "eq":
        if isinstance(value, str) and not case_sensitive:
            return _regex(f"^{re.escape(value)}$", case_sensitive)
        return _scalar(value, operator)
    if operator in comparisons:
        return {comparisons[operator]: _scalar(value, operator)}
    if operator in {"in", "nin"}:
        return {f"${operator}": _list(value, operator)}
    if operator in {"contains", "text"}:
        return _regex(re.escape(_pattern(value, operator)), case_sensitive)
    if operator == "starts_with":
        return _regex("^" + re.escape(_pattern(value, operator)), case_sensitive)
    if operator == "ends_with":
        return _regex(re.escape(_pattern(value, operator)) + "$", case_sensitive)
    if operator == "regex":
        pattern = _pattern(value, operator)
        try:
            re.compile(pattern)
        except re.error as error:
            raise InvalidArgument(f"filters: invalid regex {pattern!r}: {error}") from None
        return _regex(pattern, case_sensitive)
    if operator == "exists":
        return {"$exists": bool(value)}
    if operator == "is_null":
        return None if value else {"$ne": None}
    raise InvalidArgument(
        f"filters: unknown operator {operator!r}; use eq, ne, gt, lt, gte, lte, in, nin, "
        "contains, starts_with, ends_with, regex, exists, is_null or text"
    )


def _clause(name: Any, operator: str, value: Any, resolve: FieldResolver, case: bool) -> Query:
    resolved = resolve(name) if isinstance(name, str) else None
    if resolved is None:
        raise InvalidArgument(f"filters: cannot filter on field {name!r}")
    if isinstance(resolved, StoredAs):
        stored = resolved.stored
        value = [stored(item) for item in value] if isinstance(value, list) else stored(value)
        resolved = resolved.path
    return {resolved: _operator_query(operator, value, case)}


def _condition(item: Mapping[str, Any], resolve: FieldResolver, case_sensitive: bool) -> Query:
    operator = str(item.get("operator") or "eq").lower()
    return _clause(item.get("field"), operator, item.get("value"), resolve, case_sensitive)


def _node(node: Any, resolve: FieldResolver, budget: _Budget, depth: int, case: bool) -> Query:
    if not isinstance(node, Mapping):
        raise InvalidArgument("filters: each item must be an object")
    if depth > MAX_DEPTH:
        raise InvalidArgument(f"filters: nest at most {MAX_DEPTH} levels")
    case = bool(node.get("case_sensitive", case))
    if "field" in node:
        budget.spend()
        return _condition(node, resolve, case)
    if not LOGICAL_KEYS & node.keys():
        clauses = []
        for key, value in node.items():
            if key == "case_sensitive":
                continue
            budget.spend()
            clauses.append(_clause(key, "eq", value, resolve, case))
        return {"$and": clauses} if len(clauses) > 1 else (clauses[0] if clauses else {})
    parts: list[Query] = []
    for key, mongo in (("AND", "$and"), ("OR", "$or"), ("NOT", "$nor")):
        items = node.get(key)
        if not items:
            continue
        if not isinstance(items, list):
            raise InvalidArgument(f"filters: {key} must be a list")
        parts.append({mongo: [_node(i, resolve, budget, depth + 1, case) for i in items]})
    return {"$and": parts} if len(parts) > 1 else (parts[0] if parts else {})


def refuse_operators(where: str, value: Any) -> None:
    """No key starting with `$`, anywhere: a caller's JSON never reaches MongoDB as an operator."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, Mapping):
            for key, inner in item.items():
                if isinstance(key, str) and key.startswith("$"):
                    raise InvalidArgument(
                        f"{path}: {key!r} is not allowed: keys may not start with '$'",
                        details={"field": f"{path}.{key}"},
                    )
                stack.append((f"{path}.{key}", inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in enumerate(item))
        elif isinstance(item, str) and path.endswith(".field"):
            refuse_operator_fields(path, [item])


def refuse_operator_fields(where: str, names: list[str]) -> None:
    """Field names (a sort, a select, a condition's field) may not start with `$` either."""
    for index, name in enumerate(names):
        if name.startswith("$") or ".$" in name:
            path = where if len(names) == 1 else f"{where}[{index}]"
            raise InvalidArgument(
                f"{path}: {name!r} is not allowed: field names may not start with '$'",
                details={"field": path},
            )


def to_query(filters: Mapping[str, Any] | None, resolve: FieldResolver) -> Query:
    """The MongoDB query for `filters` (empty for none); InvalidArgument says what is wrong."""
    if not filters:
        return {}
    refuse_operators("filters", filters)
    return _node(filters, resolve, _Budget(), depth=1, case=False)


def search_query(text: str, fields: list[str], *, case_sensitive: bool = False) -> Query:
    """Substring search over `fields` (the reference's `search`), regex-escaped."""
    if not text:
        return {}
    pattern = _regex(re.escape(_pattern(text, "search")), case_sensitive)
    return {"$or": [{name: pattern} for name in fields]}


def all_of(*clauses: Query) -> Query:
    """The conjunction of the non-empty clauses ({} when there are none)."""
    present = [clause for clause in clauses if clause]
    if len(present) > 1:
        return {"$and": present}
    return present[0] if present else {}


def list_filter(request: ListQuery, resolve: FieldResolver, search_fields: list[str]) -> Query:
    """A list request's `filters` and `search`, as one query."""
    return all_of(
        to_query(request.filters, resolve),
        search_query(request.search, search_fields, case_sensitive=request.case_sensitive),
    )


def fields_or_metadata(known: dict[str, str]) -> FieldResolver:
    """A resolver for the `known` public fields, plus any `metadata.x` path."""

    def resolve(name: str) -> str | None:
        if name.startswith("metadata.") and len(name) > len("metadata."):
            return name
        return known.get(name)

    return resolve
