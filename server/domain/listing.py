"""Paging and sorting rules shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bucketd.server.errors import InvalidArgument


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int

    @classmethod
    def of(
        cls, limit: int | None, offset: int | None, *, default: int, maximum: int
    ) -> PageRequest:
        """Validated paging: limit 1..maximum (default `default`), offset >= 0."""
        chosen = default if limit is None else limit
        if not 1 <= chosen <= maximum:
            raise InvalidArgument(f"limit must be between 1 and {maximum}, got {chosen}")
        start = offset or 0
        if start < 0:
            raise InvalidArgument(f"offset must be 0 or more, got {start}")
        return cls(limit=chosen, offset=start)


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
    select: tuple[str, ...] = ()

    def page(self, *, default: int, maximum: int) -> PageRequest:
        return PageRequest.of(self.limit, self.offset, default=default, maximum=maximum)

    def sort(self, *, allowed: dict[str, str], default: SortRequest) -> SortRequest:
        return sort_of(self.sort_field, self.sort_direction, allowed=allowed, default=default)


def pagination(
    page: PageRequest, *, total: int | None, returned: int, next_cursor: str | None = None
) -> dict[str, Any]:
    """The reference's PaginationResponse: an offset page, and the cursor of the next one.

    Without a total (a cursor listing that did not ask for it) only what is known is said.
    """
    if total is None:
        return {
            "limit": page.limit,
            "offset": page.offset,
            "has_more": next_cursor is not None,
            "next_cursor": next_cursor,
        }
    page_number = page.offset // page.limit + 1
    total_pages = (total + page.limit - 1) // page.limit if total else 0
    has_more = page.offset + returned < total
    return {
        "total": total,
        "page": page_number,
        "page_size": page.limit,
        "total_pages": total_pages,
        "next_page": page_number + 1 if has_more else None,
        "previous_page": page_number - 1 if page_number > 1 else None,
        "has_more": has_more,
        "limit": page.limit,
        "offset": page.offset,
        "next_cursor": next_cursor,
    }
