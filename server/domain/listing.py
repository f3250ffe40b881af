"""Paging and sorting rules shared by every list endpoint."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from bucketd.server.errors import InvalidArgument

# Deepest offset (or page x limit) a list skips to: skipping costs the store one step per item.
MAX_OFFSET = 100_000


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque next_cursor: where the next page starts (an offset, or a sort key)."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        position = None
    if not isinstance(position, dict):
        raise InvalidArgument(
            "cursor: not a next_cursor that this API returned", details={"field": "cursor"}
        )
    return position


def _cursor_offset(cursor: str | None) -> int | None:
    if not cursor:
        return None
    offset = decode_cursor(cursor).get("o")
    return offset if type(offset) is int else None  # not a bool, not a float


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int
    include_total: bool = False

    @classmethod
    def of(
        cls,
        limit: int | None,
        offset: int | None,
        *,
        default: int,
        maximum: int,
        include_total: bool = False,
    ) -> PageRequest:
        """Validated paging: limit 1..maximum (default `default`), offset >= 0."""
        chosen = default if limit is None else limit
        if not 1 <= chosen <= maximum:
            raise InvalidArgument(
                f"limit must be between 1 and {maximum}, got {chosen}", details={"field": "limit"}
            )
        start = offset or 0
        if not 0 <= start <= MAX_OFFSET:
            raise InvalidArgument(
                f"offset must be 0 to {MAX_OFFSET}, got {start}: page further with next_cursor",
                details={"field": "offset"},
            )
        return cls(limit=chosen, offset=start, include_total=include_total)


@dataclass(frozen=True)
class SortRequest:
    field: str
    descending: bool


def sort_of(
    field: str | None, direction: str | None, *, allowed: dict[str, str], default: SortRequest
) -> SortRequest:
    """The stored sort field for a public one; InvalidArgument lists the sortable fields."""
    if not field:
        return default
    stored = allowed.get(field)
    if stored is None:
        names = ", ".join(sorted(allowed))
        raise InvalidArgument(f"sort.field {field!r} is not sortable; use one of {names}")
    return SortRequest(field=stored, descending=direction == "desc")


@dataclass(frozen=True, kw_only=True)
class ListQuery:
    """What every list endpoint may be asked: filters, search, sort and paging."""

    filters: dict[str, Any] | None = None
    search: str = ""
    sort_field: str | None = None
    sort_direction: str | None = None
    case_sensitive: bool = False
    limit: int | None = None
    offset: int | None = None
    page_number: int | None = None
    cursor: str | None = None
    include_total: bool = False
    select: tuple[str, ...] = ()

    def page(self, *, default: int, maximum: int) -> PageRequest:
        """limit, then where to start: offset, else page (from 1), else an offset cursor."""
        limit = default if self.limit is None else self.limit
        offset = self.offset
        if offset is None and self.page_number is not None:
            if self.page_number < 1:
                raise InvalidArgument(
                    f"page is numbered from 1, got {self.page_number}", details={"field": "page"}
                )
            offset = (self.page_number - 1) * limit
        if offset is None:
            offset = _cursor_offset(self.cursor)
        return PageRequest.of(
            limit, offset, default=default, maximum=maximum, include_total=self.include_total
        )

    def sort(self, *, allowed: dict[str, str], default: SortRequest) -> SortRequest:
        return sort_of(self.sort_field, self.sort_direction, allowed=allowed, default=default)


def pagination(
    page: PageRequest, *, total: int, returned: int, next_cursor: str | None = None
) -> dict[str, Any]:
    """The reference's PaginationResponse: page numbers as strings, total only when asked.

    `total` counts every match. A listing that pages by its own cursor (objects) passes the
    cursor after a full page; otherwise next_cursor encodes the next offset.
    """
    if next_cursor is not None:
        has_more = True
    else:
        has_more = page.offset + returned < total and returned == page.limit
        next_cursor = encode_cursor({"o": page.offset + page.limit})
    page_number = page.offset // page.limit + 1
    shown_total = total if page.include_total else None
    return {
        "total": shown_total,
        "page": page_number,
        "page_size": page.limit,
        "total_pages": None if shown_total is None else -(-shown_total // page.limit),
        "next_page": str(page_number + 1) if has_more else None,
        "previous_page": str(page_number - 1) if page_number > 1 else None,
        "has_more": has_more,
        "limit": page.limit,
        "offset": page.offset,
        "next_cursor": next_cursor if has_more else None,
    }
