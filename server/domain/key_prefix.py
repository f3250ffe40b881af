"""Storage paths of objects and blobs (`key_prefix`): normalised, never escaping upwards."""

from __future__ import annotations

from bucketd.server.errors import InvalidArgument

MAX_LENGTH = 512


def normalize(value: str | None, *, field: str = "key_prefix") -> str | None:
    """'/catalog/shoes/' -> '/catalog/shoes'; '..', '.' and empty segments are refused."""
    if value is None:
        return None
    text = value.strip()
    if not text or text == "/":
        return None
    if len(text) > MAX_LENGTH:
        raise InvalidArgument(
            f"{field} is at most {MAX_LENGTH} characters", details={"field": field}
        )
    segments = text.strip("/").split("/")
    for segment in segments:
        if segment in {"", ".", ".."}:
            raise InvalidArgument(
                f"{field} {value!r} has an empty, '.' or '..' segment", details={"field": field}
            )
        if any(ord(char) < 32 for char in segment) or "\\" in segment:
            raise InvalidArgument(
                f"{field} {value!r} contains a control character or a backslash",
                details={"field": field},
            )
    return "/" + "/".join(segments)
