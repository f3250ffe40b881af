"""Rules for JSON a caller stores (metadata, user fields, JSON blob values): what MongoDB can keep
as a document field without it ever being read as an operator, and how big it may be.

Keys may not be empty, start with `$`, contain `.` or a NUL character; numbers must be finite;
nesting stops at MAX_DEPTH levels; the encoded size at the caller's limit. Each refusal names the
path of the offending key or value, so that a request that breaks a rule loses nothing.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from bucketd.server.errors import InvalidArgument, PayloadTooLarge

MAX_DEPTH = 32


def _invalid(path: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {message}", details={"field": path})


def reads_as_operator(name: str) -> bool:
    """A rule of the store: MongoDB reads a field name that starts with "$" as an operator, so
    no key a caller sends, and no name in a field path, may start with one."""
    return name.startswith("$")


def _check_key(path: str, key: object) -> None:
    if not isinstance(key, str) or not key:
        raise _invalid(path, "keys must be non-empty strings")
    if reads_as_operator(key):
        raise _invalid(path, f"the key {key!r} starts with '$': such keys are reserved")
    if "." in key:
        raise _invalid(path, f"the key {key!r} contains '.': use nested objects instead")
    if "\x00" in key:
        raise _invalid(path, f"the key {key!r} contains a NUL character")


def check_user_json(where: str, value: Any, *, max_bytes: int | None = None) -> None:
    """Raise, naming the path, unless `value` may be stored as the caller's JSON."""
    stack: list[tuple[str, Any, int]] = [(where, value, 1)]
    while stack:
        path, item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _invalid(path, f"JSON nests at most {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, inner in item.items():
                _check_key(f"{path}.{key}" if isinstance(key, str) else path, key)
                stack.append((f"{path}.{key}", inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner, depth + 1) for i, inner in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            raise _invalid(path, "NaN and Infinity are not JSON numbers")
    if max_bytes is not None:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > max_bytes:
            raise PayloadTooLarge(
                f"{where}: {size} bytes of JSON exceed the limit of {max_bytes} bytes "
                "(BUCKETD_MAX_METADATA_BYTES); store large values as a blob",
                details={"field": where, "limit_bytes": str(max_bytes)},
            )


def json_safe(value: Any) -> Any:
    """Stored values made JSON: datetimes as ISO 8601 (UTC, "Z"), recursively."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


def search_text(value: Any) -> str:
    """The words of a record's metadata values, which a list's `search` matches (stored with
    the record, so that a search is one condition on one field)."""
    return " ".join(_words(value))


def _words(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [word for item in value.values() for word in _words(item)]
    if isinstance(value, list):
        return [word for item in value for word in _words(item)]
    return [] if value is None else [str(value)]
