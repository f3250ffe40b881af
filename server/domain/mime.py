"""MIME types: sniffed from the first bytes when not given, and checked against the field type."""

from __future__ import annotations

import mimetypes

import puremagic

from bucketd.server.domain.words import a
from bucketd.server.errors import InvalidArgument

OCTET_STREAM = "application/octet-stream"
SNIFF_BYTES = 8192

_EXCEL = {
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
    "text/csv",
    "application/zip",  # xlsx files sniff as zip archives
}


# puremagic's confidence is 0.1 per byte of the signature matched. Signatures of 1 or 2 bytes
# ("v=" for SDP, 0xFFFB for MP3, "{" for JSON) match random bytes: 1 head in 200 of
# os.urandom came out typed, and a typed property then refused it. Only 3 bytes and more count.
MIN_SIGNATURE_CONFIDENCE = 0.3


def _signature(head: bytes) -> str:
    try:
        matches = puremagic.magic_string(head[:SNIFF_BYTES])
    except (puremagic.PureError, ValueError):
        return ""
    strong = (
        str(m.mime_type)
        for m in matches
        if m.mime_type and m.confidence >= MIN_SIGNATURE_CONFIDENCE - 1e-9
    )
    return next(strong, "")


def sniff(head: bytes, *, filename: str | None = None) -> str:
    """A MIME type from the leading bytes (a signature of 3 bytes or more), else from the
    filename, octet-stream if unknown."""
    found = _signature(head)
    if found:
        return found
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    if guessed:
        return guessed
    try:
        head[:SNIFF_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        return OCTET_STREAM
    return "text/plain"


def fits(kind: str, mime: str) -> bool:
    """Whether bytes of type `mime` may fill a property of schema type `kind`."""
    mime = mime.split(";", maxsplit=1)[0].strip().lower()
    if mime == OCTET_STREAM:
        return True  # unknown: nothing contradicts the declared type
    family = mime.split("/")[0]
    return {
        "image": family == "image",
        "video": family == "video" or mime == "image/gif",
        "audio": family == "audio",
        "pdf": mime == "application/pdf",
        "excel": mime in _EXCEL,
        "text": family == "text" or mime in {"application/json", "application/xml"},
    }.get(kind, True)


# Field types whose files cannot be empty (an empty text file is still text).
NEVER_EMPTY = frozenset({"image", "video", "audio", "pdf", "excel"})


def check_not_empty(where: str, kind: str, size: int) -> None:
    if size == 0 and kind in NEVER_EMPTY:
        raise InvalidArgument(
            f"{where}: an empty file is no {kind} file: send its bytes", details={"field": where}
        )


def check_fits(where: str, kind: str, mime: str) -> None:
    if not fits(kind, mime):
        raise InvalidArgument(
            f"{where}: content of type {mime} does not fit {a(kind)} property",
            details={"field": where},
        )
