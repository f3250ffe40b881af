"""What a blob's `data` is: the forms of the public docs, told apart and checked.

URL strings (`https://`, `http://`, `s3://`; `file://` is refused), data URIs, `{"base64": …}`,
`{"url": …}`; for a text property the text itself or `{"text": …}`; and a JSON value, for any
property, stored as that JSON. Base64 is decoded here, under a size cap.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import ParseResult, urlparse

from bucketd.server.domain.words import a
from bucketd.server.errors import InvalidArgument, PayloadTooLarge
from bucketd.spellings import FILE_TYPES

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.I)
_BARE_BASE64 = re.compile(r"^[A-Za-z0-9+/]{8,}={0,2}$")
TEXT_MIME = "text/plain; charset=utf-8"
# What to do instead of inline data, in HTTP words (the REST route of UploadObject streams).
LARGE_FILES = (
    "stream the file instead (curl --data-binary @FILE -H 'Content-Type: TYPE' "
    "'…/v1/buckets/BUCKET/objects/upload?property=NAME'), or give a URL, or use a presigned "
    "upload"
)
_LOCAL_PATH = re.compile(r"^(~|\.{1,2})?/|^[A-Za-z]:\\")


@dataclass(frozen=True)
class InlineBytes:
    """Bytes given in the request (base64 or a data URI)."""

    content: bytes
    mime_type: str | None
    filename: str | None


@dataclass(frozen=True)
class RemoteUrl:
    """An http(s) URL to fetch (or to reference as is without canonicalize_source)."""

    url: str


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class JsonValue:
    """A plain JSON value for a metadata-typed property; stored as canonical JSON bytes."""

    value: Any

    def encoded(self) -> bytes:
        return json.dumps(self.value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class UploadRef:
    """A confirmed presigned upload of the same bucket: the new blob holds its content."""

    upload_id: str


@dataclass(frozen=True)
class UploadedFile:
    """A presigned upload's file being confirmed: it becomes the content where it was put."""

    storage_key: str
    mime_type: str
    filename: str


@dataclass(frozen=True, kw_only=True)
class Streamed:
    """Bytes that arrive in an UploadObject stream, after the header that announced them."""

    filename: str | None = None
    mime_type: str | None = None
    expected_size: int | None = None
    expected_crc32c: int | None = None


BlobData = InlineBytes | RemoteUrl | S3Location | JsonValue | UploadRef | UploadedFile | Streamed

_PATHS: dict[type, str] = {
    InlineBytes: "inline",
    RemoteUrl: "url",
    S3Location: "s3",
    JsonValue: "json",
    UploadRef: "upload_ref",
    UploadedFile: "presigned",
    Streamed: "stream",
}


def ingest_path(data: BlobData) -> str:
    """How the bytes came in (the ingested-bytes metric's label)."""
    return _PATHS[type(data)]


def unreadable_source(where: str, source: S3Location) -> InvalidArgument:
    """The one answer for an s3:// source that may not or cannot be read: it says nothing of
    whether the bucket or the key exists."""
    return InvalidArgument(
        f"{where}: {source.url} cannot be read: s3:// sources are read only from the buckets "
        "named in BUCKETD_S3_SOURCE_BUCKETS, and only keys that exist there",
        details={"field": where},
    )


def _invalid(where: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: {message}", details={"field": where})


def _decode(where: str, text: str, limit: int) -> bytes:
    if len(text) * 3 // 4 > limit + 3:
        raise PayloadTooLarge(
            f"{where}: inline data exceeds the limit of {limit} bytes decoded "
            f"(BUCKETD_MAX_INLINE_BYTES); {LARGE_FILES}",
            details={"field": where, "limit_bytes": str(limit)},
        )
    try:
        content = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(where, "is not valid base64") from None
    if len(content) > limit:
        raise PayloadTooLarge(
            f"{where}: inline data exceeds the limit of {limit} bytes decoded "
            f"(BUCKETD_MAX_INLINE_BYTES); {LARGE_FILES}",
            details={"field": where, "limit_bytes": str(limit)},
        )
    return content


def _looks_like_encoded_text(text: str) -> bool:
    """A bare base64 string that decodes to readable text: almost surely sent encoded by
    mistake, and storing the encoding as the text would be silently wrong."""
    if len(text) % 4 or not _BARE_BASE64.fullmatch(text):
        return False
    try:
        decoded = base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return all(char.isprintable() or char in "\t\r\n" for char in decoded)


def _text(where: str, text: str, limit: int) -> InlineBytes:
    if _looks_like_encoded_text(text):
        raise _invalid(
            where,
            "looks like base64-encoded text; send the text itself, or encoded as "
            "data:text/plain;base64,... or {'base64': ..., 'mime_type': 'text/plain'}",
        )
    content = text.encode()
    if len(content) > limit:
        raise PayloadTooLarge(
            f"{where}: inline text exceeds the limit of {limit} bytes; {LARGE_FILES}",
            details={"field": where, "limit_bytes": str(limit)},
        )
    return InlineBytes(content, TEXT_MIME, None)


def _parsed(where: str, url: str) -> ParseResult:
    """`url` split into its parts; a malformed host (`http://[zz]/`) is the caller's to fix."""
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - reading it checks it (`http://h:99999/` is refused)
    except ValueError as error:
        raise _invalid(
            where, f"URL {url!r} is malformed ({error}): check its host and port"
        ) from None
    return parsed


def _from_string(where: str, text: str, field_type: str, limit: int) -> BlobData:
    lowered = text[:16].lower()
    if lowered.startswith("file://"):
        raise _invalid(
            where,
            "file:// URLs name a file on your machine, which bucketd cannot read: send its "
            "bytes (base64 or a presigned upload) or an http(s):// or s3:// URL",
        )
    if lowered.startswith(("http://", "https://")):
        if not _parsed(where, text).hostname:
            raise _invalid(where, f"URL {text!r} has no host")
        return RemoteUrl(text)
    if lowered.startswith("s3://"):
        parsed = _parsed(where, text)
        key = parsed.path.lstrip("/")
        if not parsed.netloc or not key:
            raise _invalid(where, f"S3 URL {text!r} must look like s3://bucket/key")
        return S3Location(parsed.netloc, key)
    match = _DATA_URI.match(text)
    if match:
        content = _decode(where, text[match.end() :], limit)
        return InlineBytes(content, match.group("mime"), None)
    if text.lower().startswith("data:"):
        raise _invalid(where, "data URIs must look like data:<mime>;base64,<data>")
    if field_type == "text":
        return _text(where, text, limit)
    if field_type in FILE_TYPES:
        if _LOCAL_PATH.match(text):
            raise _invalid(
                where,
                f"{text[:80]!r} looks like a path on your machine, which bucketd cannot read: "
                f"{LARGE_FILES}",
            )
        raise _invalid(
            where,
            f"{a(field_type)} property takes a URL, a data URI, {{'base64': ...}} or a JSON "
            f"object, not a plain string; to send a local file, {LARGE_FILES}",
        )
    return JsonValue(text)


def parse_blob_data(where: str, data: Any, *, field_type: str, inline_limit: int) -> BlobData:
    """Classify `data` of a blob of schema type `field_type`; errors name `where`
    (e.g. blobs[0].data)."""
    if isinstance(data, str):
        return _from_string(where, data, field_type, inline_limit)
    if isinstance(data, dict) and "base64" in data:
        encoded = data["base64"]
        if not isinstance(encoded, str):
            raise _invalid(f"{where}.base64", "must be a base64 string")
        mime, filename = data.get("mime_type"), data.get("filename")
        return InlineBytes(
            _decode(f"{where}.base64", encoded, inline_limit),
            mime if isinstance(mime, str) else None,
            filename if isinstance(filename, str) else None,
        )
    if isinstance(data, dict) and "url" in data and isinstance(data["url"], str):
        if not data["url"][:8].lower().startswith(("http://", "https://", "s3://")):
            raise _invalid(f"{where}.url", "must be an http(s):// or s3:// URL")
        return _from_string(f"{where}.url", data["url"], field_type, inline_limit)
    if field_type == "text" and isinstance(data, dict) and set(data) == {"text"}:
        if not isinstance(data["text"], str):
            raise _invalid(f"{where}.text", "must be a string")
        return _text(f"{where}.text", data["text"], inline_limit)
    return JsonValue(data)  # any property: stored as that JSON (application/json)
