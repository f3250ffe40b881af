"""The reference's list filters translated to the query model (domain/query.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bucketd.server.domain.filters import search_filter, to_filter
from bucketd.server.domain.listing import (
    ListQuery,
    PageRequest,
    decode_cursor,
    encode_cursor,
    pagination,
)
from bucketd.server.domain.query import EVERYTHING, AllOf, AnyOf, NoneOf, Op, Where
from bucketd.server.errors import InvalidArgument


def resolve(name: str) -> str | None:
    return {"name": "name", "size": "metadata.size", "id": "record_id"}.get(name)


def test_shorthand_is_case_insensitive_equality() -> None:
    assert to_filter({"name": "a.b"}, resolve) == Where("name", Op.MATCHES, "^a\\.b$", False)
    assert to_filter({"size": 3, "case_sensitive": True}, resolve) == Where(
        "metadata.size", Op.EQ, 3
    )
    assert to_filter({"name": None, "size": 2}, resolve) == AllOf(
        (Where("name", Op.EQ, None), Where("metadata.size", Op.EQ, 2))
    )
    assert to_filter({}, resolve) == EVERYTHING


def test_logical_operators() -> None:
    query = to_filter(
        {
            "AND": [{"field": "size", "operator": "gte", "value": 2}],
            "OR": [{"field": "id", "operator": "in", "value": ["a", "b"]}],
            "NOT": [
                {
                    "field": "name",
                    "operator": "starts_with",
                    "value": "x",
                }
            ],
            "case_sensitive": True,
        },
        resolve,
    )
    assert query == AllOf(
        (
            AllOf((Where("metadata.size", Op.GTE, 2),)),
            AnyOf((Where("record_id", Op.IN, ["a", "b"]),)),
            NoneOf((Where("name", Op.MATCHES, "^x", True),)),
        )
    )


def test_null_and_existence_operators() -> None:
    def one(operator: str, value: Any) -> Any:
        return to_filter(
            {"AND": [{"field": "name", "operator": operator, "value": value}]}, resolve
        )

    assert one("is_null", True) == AllOf((Where("name", Op.EQ, None),))
    assert one("is_null", False) == AllOf((Where("name", Op.NE, None),))
    assert one("exists", 1) == AllOf((Where("name", Op.EXISTS, True),))
    assert one("ends_with", "z.") == AllOf((Where("name", Op.MATCHES, "z\\.$", False),))


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"secret": 1}, "cannot filter on field 'secret'"),
        ({"AND": [{"field": "name", "operator": "near", "value": 1}]}, "unknown operator"),
        ({"AND": [{"field": "name", "operator": "in", "value": "a"}]}, "needs a list"),
        ({"AND": [{"field": "name", "operator": "regex", "value": "("}]}, "invalid regex"),
        ({"AND": "x"}, "must be a list"),
        ({"AND": [{"field": "name", "value": i} for i in range(51)]}, "at most 50 conditions"),
    ],
)
def test_refusals(filters: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        to_filter(filters, resolve)


def test_deep_nesting_is_refused() -> None:
    node: dict[str, Any] = {"field": "name", "value": "x"}
    for _ in range(6):
        node = {"AND": [node]}
    with pytest.raises(InvalidArgument, match="nest at most"):
        to_filter(node, resolve)


def test_search_escapes_the_text() -> None:
    assert search_filter("a+b", ["name", "id"]) == AnyOf(
        (Where("name", Op.MATCHES, "a\\+b", False), Where("id", Op.MATCHES, "a\\+b", False))
    )
    assert search_filter("", ["name"]) == EVERYTHING


def test_pagination_numbers() -> None:
    counted = PageRequest(limit=10, offset=20, include_total=True)
    assert pagination(counted, total=25, returned=5) == {
        "next_cursor": None,
        "total": 25,
        "page": 3,
        "page_size": 10,
        "total_pages": 3,
        "next_page": None,
        "previous_page": "2",
        "has_more": False,
        "limit": 10,
        "offset": 20,
    }


def test_pagination_without_include_total_says_what_follows_not_how_many() -> None:
    first = pagination(PageRequest(limit=10, offset=0), total=25, returned=10)
    assert first["total"] is None and first["total_pages"] is None
    assert first["next_page"] == "2" and first["previous_page"] is None
    assert decode_cursor(first["next_cursor"]) == {"o": 10}


def test_a_page_number_or_an_offset_cursor_becomes_an_offset() -> None:
    assert ListQuery(limit=10, page_number=3).page(default=5, maximum=100).offset == 20
    cursor = encode_cursor({"o": 30})
    assert ListQuery(cursor=cursor).page(default=5, maximum=100).offset == 30
    with pytest.raises(InvalidArgument, match="page is numbered from 1"):
        ListQuery(page_number=0).page(default=5, maximum=100)
    with pytest.raises(InvalidArgument, match="not a next_cursor"):
        ListQuery(cursor="bm90IGpzb24").page(default=5, maximum=100)
