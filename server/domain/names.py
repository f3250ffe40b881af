"""Name rules for namespaces and buckets; each error names the field and the rule."""

from __future__ import annotations

import re

from bucketd.server.errors import InvalidArgument

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

NAMESPACE_NAME_LENGTH = (3, 64)
BUCKET_NAME_LENGTH = (1, 128)


def _check(field: str, value: str, bounds: tuple[int, int]) -> str:
    low, high = bounds
    if not low <= len(value) <= high:
        raise InvalidArgument(
            f"{field} must be {low} to {high} characters long, got {len(value)}",
            details={"field": field},
        )
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            f"{field} may contain only letters, digits, '_', '-' and '.', and must start with "
            f"a letter or a digit; got {value!r}",
            details={"field": field},
        )
    return value


def namespace_name(value: str) -> str:
    """A valid namespace name (3-64 characters), or InvalidArgument naming namespace_name."""
    return _check("namespace_name", value, NAMESPACE_NAME_LENGTH)


def bucket_name(value: str) -> str:
    """A valid bucket name (1-128 characters), or InvalidArgument naming bucket_name."""
    return _check("bucket_name", value, BUCKET_NAME_LENGTH)


def description(value: str | None, *, field: str = "description", limit: int = 1000) -> str | None:
    if value is not None and len(value) > limit:
        raise InvalidArgument(
            f"{field} must be at most {limit} characters", details={"field": field}
        )
    return value
