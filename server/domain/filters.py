"""The reference's list filters (section 1.5) translated to the query model (domain/query.py).

Two forms: the LogicalOperator `{"AND": [...], "OR": [...], "NOT": [...], "case_sensitive": false}`
whose items are nested operators or `{field, operator, value}` conditions, and the shorthand
`{"status": "PENDING", "metadata.campaign": "x"}` (each key equals its value). Only fields that
the caller's `resolve` accepts may be filtered on; the filter is bounded in size and depth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bucketd.server.domain.listing import ListQuery
from bucketd.server.domain.query import EVERYTHING, AllOf, AnyOf, Filter, NoneOf, Op, Where, all_of
from bucketd.server.domain.regex_guard import bounded_regex
from bucketd.server.domain.user_json import reads_as_operator
from bucketd.server.errors import InvalidArgument


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
_COMPARISONS = {"ne": Op.NE, "gt": Op.GT, "lt": Op.LT, "gte": Op.GTE, "lte": Op.LTE}


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


def _scalar(value: Any, operator: str) -> Any:
    """A JSON scalar: objects never reach the store, where they could be read as operators."""
    if isinstance(value, (dict, list)):
        raise InvalidArgument(
            f"filters: operator {operator} needs a string, number, boolean or null value"
        )
    return value


def _list(value: Any, operator: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(f"filters: operator {operator} needs a list value")
    return [_scalar(item, operator) for item in value]


def _matches(path: str, pattern: str, case_sensitive: bool) -> Where:
    return Where(path, Op.MATCHES, pattern, case_sensitive)


def _where(path: str, operator: str, value: Any, case: bool) -> Filter:  # noqa: PLR0911
    if operator == "eq":
        if isinstance(value, str) and not case:
            return _matches(path, f"^{re.escape(value)}$", case)
        return Where(path, Op.EQ, _scalar(value, operator))
    if operator in _COMPARISONS:
        return Where(path, _COMPARISONS[operator], _scalar(value, operator))
    if operator in {"in", "nin"}:
        return Where(path, Op.IN if operator == "in" else Op.NIN, _list(value, operator))
    if operator in {"contains", "text"}:
        return _matches(path, re.escape(_pattern(value, operator)), case)
    if operator == "starts_with":
        return _matches(path, "^" + re.escape(_pattern(value, operator)), case)
    if operator == "ends_with":
        return _matches(path, f"{re.escape(_pattern(value, operator))}$", case)
    if operator == "regex":
        return _matches(path, bounded_regex(_pattern(value, operator)), case)
    if operator == "exists":
        return Where(path, Op.EXISTS, bool(value))
    if operator == "is_null":
        return Where(path, Op.EQ if value else Op.NE, None)
    raise InvalidArgument(
        f"filters: unknown operator {operator!r}; use eq, ne, gt, lt, gte, lte, in, nin, "
        "contains, starts_with, ends_with, regex, exists, is_null or text"
    )


def field_path_problem(name: str) -> str | None:
    """Why `name` cannot be a field path (None when it can): every dotted segment non-empty,
    none starting with "$" (user_json.reads_as_operator), without a control character."""
    segments = name.split(".")
    if any(not segment for segment in segments):
        return "has an empty segment"
    if any(reads_as_operator(segment) for segment in segments):
        return "holds '$' at the start of a name, which field names may not"
    if not name.isprintable():
        return "holds a control character"
    return None


def _clause(name: Any, operator: str, value: Any, resolve: FieldResolver, case: bool) -> Filter:
    problem = field_path_problem(name) if isinstance(name, str) else "is not a string"
    if problem is not None:
        raise InvalidArgument(f"filters: the field {name!r} {problem}")
    resolved = resolve(name) if isinstance(name, str) else None
    if resolved is None:
        raise InvalidArgument(f"filters: cannot filter on field {name!r}")
    if isinstance(resolved, StoredAs):
        stored = resolved.stored
        value = [stored(item) for item in value] if isinstance(value, list) else stored(value)
        resolved = resolved.path
    return _where(resolved, operator, value, case)


def _condition(item: Mapping[str, Any], resolve: FieldResolver, case_sensitive: bool) -> Filter:
    operator = str(item.get("operator") or "eq").lower()
    return _clause(item.get("field"), operator, item.get("value"), resolve, case_sensitive)


def _node(node: Any, resolve: FieldResolver, budget: _Budget, depth: int, case: bool) -> Filter:
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
        return all_of(*clauses)
    parts: list[Filter] = []
    for key, kind in (("AND", AllOf), ("OR", AnyOf), ("NOT", NoneOf)):
        items = node.get(key)
        if not items:
            continue
        if not isinstance(items, list):
            raise InvalidArgument(f"filters: {key} must be a list")
        parts.append(kind(tuple(_node(i, resolve, budget, depth + 1, case) for i in items)))
    return all_of(*parts)


def refuse_operators(where: str, value: Any) -> None:
    """No key starting with `$`, anywhere: a caller's JSON never reaches MongoDB as an operator."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, Mapping):
            for key, inner in item.items():
                if isinstance(key, str) and reads_as_operator(key):
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
    """Field names (a sort, a select, a condition's field) follow field_path_problem's rules."""
    for index, name in enumerate(names):
        problem = field_path_problem(name) if name else None
        if problem is not None:
            path = where if len(names) == 1 else f"{where}[{index}]"
            raise InvalidArgument(
                f"{path}: the field name {name!r} {problem}", details={"field": path}
            )


def to_filter(filters: Mapping[str, Any] | None, resolve: FieldResolver) -> Filter:
    """The filter `filters` asks for (everything for none); InvalidArgument says what is wrong."""
    if not filters:
        return EVERYTHING
    refuse_operators("filters", filters)
    return _node(filters, resolve, _Budget(), depth=1, case=False)


def search_filter(text: str, fields: list[str], *, case_sensitive: bool = False) -> Filter:
    """Substring search over `fields` (the reference's `search`), regex-escaped."""
    if not text:
        return EVERYTHING
    pattern = re.escape(_pattern(text, "search"))
    return AnyOf(tuple(_matches(name, pattern, case_sensitive) for name in fields))


def list_filter(request: ListQuery, resolve: FieldResolver, search_fields: list[str]) -> Filter:
    """A list request's `filters` and `search`, as one query."""
    return all_of(
        to_filter(request.filters, resolve),
        search_filter(request.search, search_fields, case_sensitive=request.case_sensitive),
    )


def fields_or_metadata(known: dict[str, str]) -> FieldResolver:
    """A resolver for the `known` public fields, plus any `metadata.x` path."""

    def resolve(name: str) -> str | None:
        if name.startswith("metadata.") and len(name) > len("metadata."):
            return name
        return known.get(name)

    return resolve
