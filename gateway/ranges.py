"""HTTP's range and validator headers (RFC 9110), translated for ReadObject: a `Range` becomes
read_offset/read_limit, the stored hash an `ETag`, the filename a `Content-Disposition`
(RFC 6266). Only the protocol lives here: which bytes exist is the server's answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_TOKEN_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\/%;]')


@dataclass(frozen=True)
class Wanted:
    """What ReadObject is asked for: read_offset (negative: a suffix), read_limit (0: all)."""

    read_offset: int
    read_limit: int


UNSATISFIABLE = Wanted(0, -1)  # `bytes=-0`: no byte at all can be served


def wanted(header: str | None) -> Wanted | None:
    """The one range of a `Range` header; None (the whole body, 200) when there is none, when
    it is not a single byte range (multi-range: RFC 9110 lets a server send the whole body)
    or when it is malformed (last before first), which a server ignores."""
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        if not last:
            return None
        return Wanted(-int(last), 0) if int(last) else UNSATISFIABLE
    if last and int(last) < int(first):
        return None
    return Wanted(int(first), int(last) - int(first) + 1 if last else 0)


def etag(labelled_hash: str) -> str | None:
    """The strong ETag of a blob: its SHA-256 ("sha256:<hex>" -> "<hex>", quoted)."""
    _, _, hexdigest = labelled_hash.partition(":")
    return f'"{hexdigest}"' if hexdigest else None


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, current: str | None) -> bool:
    """If-None-Match matches (weak comparison, RFC 9110 13.1.2): the answer is 304."""
    if header is None or current is None:
        return False
    tags = _tags(header)
    return "*" in tags or current in tags


def range_applies(if_range: str | None, current: str | None) -> bool:
    """If-Range: the range applies only when the validator is the current ETag (a strong
    comparison; a date never matches, as no Last-Modified is answered)."""
    return if_range is None or (current is not None and if_range.strip() == current)


def disposition(filename: str) -> str | None:
    """`attachment` with the filename as RFC 6266 says: `filename*` (UTF-8, percent-encoded)
    for every name, and an ASCII `filename` fallback where quotes, slashes, backslashes and
    anything outside printable ASCII became `_`, so no name can break the header."""
    name = filename.rsplit("/", 1)[-1]
    if not name:
        return None
    fallback = _TOKEN_UNSAFE.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def content_range(offset: int, length: int, size: int) -> str:
    return f"bytes {offset}-{offset + length - 1}/{size}"
