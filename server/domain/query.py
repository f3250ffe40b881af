"""Which records: the small query language the storage ports speak (the order and the page are
server.domain.listing's SortRequest and PageRequest).

Conditions name a record's own fields (its dataclass attributes, dotted into dicts and lists:
`metadata.title`, `blobs.sha256`, `object_id`); storage/ translates them to MongoDB and the
unit tests' fakes evaluate them in memory, so the use cases never build a store's query. A path
that crosses a list matches when any item matches, as MongoDB's does; `EQ None` also matches a
field that is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NIN = "nin"
    EXISTS = "exists"
    # `value` is a regular expression (the Python/PCRE subset both sides read alike).
    MATCHES = "matches"


@dataclass(frozen=True)
class Where:
    """One condition: `field` `op` `value`; `case_sensitive` applies to MATCHES only."""

    field: str
    op: Op
    value: Any
    case_sensitive: bool = True


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class NoneOf:
    parts: tuple[Filter, ...]


Filter = Where | AllOf | AnyOf | NoneOf
EVERYTHING: Filter = AllOf(())


def all_of(*filters: Filter) -> Filter:
    """The conjunction of `filters`, without the ones that match everything."""
    present = tuple(f for f in filters if f != EVERYTHING)
    if len(present) == 1:
        return present[0]
    return AllOf(present)
