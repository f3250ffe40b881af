"""The OpenAPI description of a READ route (gateway/content.py): its request headers and its
answers, which are bytes, not JSON."""

from __future__ import annotations

from typing import Any

_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


PARAMETERS = [
    _header(
        "Range",
        "One byte range (`bytes=a-b`, `a-`, `-n`): a 206 with those bytes; "
        "several ranges are answered with the whole body",
    ),
    _header("If-None-Match", "ETags: a 304 without a body when the blob's is among them"),
    _header("If-Range", "An ETag: the Range applies only when it is the blob's"),
]

_HEADERS = {
    name: {"schema": {"type": "string"}, "description": description}
    for name, description in [
        ("ETag", "The blob's SHA-256, quoted"),
        ("Content-Disposition", "attachment, with the stored filename (RFC 6266)"),
        ("Accept-Ranges", "bytes"),
    ]
}


def responses(error: Any) -> dict[str, Any]:
    """200, 206, 304 and 416; `error` the envelope's description for the others."""
    ranged = {**_HEADERS, "Content-Range": {"schema": {"type": "string"}}}
    return {
        "200": {"description": "The blob's bytes", "headers": _HEADERS, "content": _BYTES},
        "206": {"description": "The range's bytes", "headers": ranged, "content": _BYTES},
        "304": {"description": "Not modified: the If-None-Match ETag is the blob's"},
        "416": error,
        "default": error,
    }
