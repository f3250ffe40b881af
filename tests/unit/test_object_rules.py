"""Pure object rules: key prefixes, blob data forms, MIME fit, content hash, unique keys."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bucketd.server.domain import key_prefix, mime
from bucketd.server.domain.blob_data import (
    TEXT_MIME,
    InlineBytes,
    JsonValue,
    RemoteUrl,
    S3Location,
    parse_blob_data,
)
from bucketd.server.domain.models import Blob, Bucket
from bucketd.server.domain.object_plan import BlobInput, Limits, ObjectInput, plan_object
from bucketd.server.domain.objects import content_hash, unique_key_value
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.errors import InvalidArgument, PayloadTooLarge


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/catalog/", "/catalog"),
        ("catalog/shoes", "/catalog/shoes"),
        ("/", None),
        (None, None),
        ("  /a/b  ", "/a/b"),
    ],
)
def test_key_prefix_normalisation(raw: str | None, normal: str | None) -> None:
    assert key_prefix.normalize(raw) == normal


@pytest.mark.parametrize("raw", ["/a/../b", "a//b", "./a", "/a/.", "a\\b", "a/\x00b"])
def test_key_prefix_refusals(raw: str) -> None:
    with pytest.raises(InvalidArgument, match="key_prefix"):
        key_prefix.normalize(raw)


def _parse(data: Any, kind: str = "image", limit: int = 1024) -> Any:
    return parse_blob_data("blobs[0].data", data, field_type=kind, inline_limit=limit)


def test_data_forms_are_told_apart() -> None:
    encoded = base64.b64encode(b"abc").decode()
    assert _parse("https://x.example/a.png") == RemoteUrl("https://x.example/a.png")
    assert _parse({"url": "s3://bkt/k/a.png"}) == S3Location("bkt", "k/a.png")
    assert _parse(f"data:image/png;base64,{encoded}") == InlineBytes(b"abc", "image/png", None)
    assert _parse({"base64": encoded, "mime_type": "image/gif", "filename": "a.gif"}) == (
        InlineBytes(b"abc", "image/gif", "a.gif")
    )
    assert _parse({"k": 1}, kind="object") == JsonValue({"k": 1})
    assert _parse("plain", kind="string") == JsonValue("plain")
    assert _parse({"num_pages": 5}, kind="pdf") == JsonValue({"num_pages": 5})


def test_text_is_given_as_itself_or_as_text_but_not_as_bare_base64() -> None:
    text = InlineBytes("Due Friday. ☺".encode(), TEXT_MIME, None)
    assert _parse("Due Friday. ☺", kind="text") == text
    assert _parse({"text": "Due Friday. ☺"}, kind="text") == text
    assert _parse("https://x.example/a.txt", kind="text") == RemoteUrl("https://x.example/a.txt")
    assert _parse("SGVsbG8=", kind="text") == InlineBytes(
        b"SGVsbG8=", TEXT_MIME, None
    )  # too short to tell
    assert _parse("abcdefgh", kind="text").content == b"abcdefgh"  # decodes to binary: text
    with pytest.raises(InvalidArgument, match="looks like base64-encoded text"):
        _parse(base64.b64encode(b"The report is due Friday.").decode(), kind="text")
    with pytest.raises(InvalidArgument, match="file:// URLs"):
        _parse("file:///etc/passwd", kind="text")


@pytest.mark.parametrize(
    ("data", "kind", "error", "fragment"),
    [
        ("plain", "image", InvalidArgument, "takes a URL"),
        ({"text": 1}, "text", InvalidArgument, "must be a string"),
        ({"base64": "***"}, "image", InvalidArgument, "not valid base64"),
        ({"base64": 5}, "image", InvalidArgument, "must be a base64 string"),
        ("s3://bucket-only", "image", InvalidArgument, "s3://bucket/key"),
        ("https:///nohost", "image", InvalidArgument, "has no host"),
        ({"url": "ftp://x/y"}, "image", InvalidArgument, "http(s):// or s3://"),
        ({"base64": base64.b64encode(b"x" * 2000).decode()}, "image", PayloadTooLarge, "1024"),
    ],
)
def test_bad_data(data: Any, kind: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        _parse(data, kind)


@pytest.mark.parametrize(
    ("kind", "mime_type", "fits"),
    [
        ("image", "image/png", True),
        ("video", "image/gif", True),
        ("pdf", "image/png", False),
        ("pdf", "application/octet-stream", True),
        ("text", "text/plain; charset=utf-8", True),
        ("audio", "video/mp4", False),
        ("string", "application/json", True),
    ],
)
def test_mime_fit(kind: str, mime_type: str, fits: bool) -> None:
    assert mime.fits(kind, mime_type) is fits


def test_sniffing() -> None:
    assert mime.sniff(b"%PDF-1.4 ...") == "application/pdf"
    assert mime.sniff("héllo".encode()) == "text/plain"
    assert mime.sniff(b"\x00\x81\x02\x83", filename="clip.mp4") == "video/mp4"
    assert mime.sniff(b"\x00\x81\xfe\xff") == mime.OCTET_STREAM


def _blob(digest: str | None) -> Blob:
    return Blob(
        blob_id="b",
        property="p",
        type="image",
        key_prefix=None,
        url="u",
        content_id=None,
        storage_key=None,
        filename=None,
        size_bytes=1,
        mime_type=None,
        sha256=digest,
    )


def test_content_hash_is_over_blob_hashes_in_order() -> None:
    first, second = "a" * 64, "b" * 64
    expected = hashlib.sha256((first + second).encode()).hexdigest()
    assert content_hash([_blob(first), _blob(second)]) == expected
    assert content_hash([_blob(second), _blob(first)]) != expected
    assert content_hash([_blob(None)]) is None


def test_unique_key_value() -> None:
    config = {"fields": ["sku", "size"]}
    same = unique_key_value(config, {"sku": "A", "size": 3, "other": 1})
    assert same == unique_key_value(config, {"size": 3, "sku": "A"})
    assert same != unique_key_value(config, {"sku": "A", "size": 4})
    with pytest.raises(InvalidArgument, match="'size'"):
        unique_key_value(config, {"sku": "A"})


def _bucket() -> Bucket:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Bucket(
        bucket_id="bkt_1",
        namespace_id="ns_1",
        bucket_name="b",
        description=None,
        bucket_schema=BucketSchema.parse(
            {"properties": {"image": {"type": "image"}, "t": {"type": "string"}}}
        ),
        unique_key=None,
        created_at=now,
        updated_at=now,
    )


def test_user_fields_are_one_map_and_blob_metadata_is_promoted_under_them() -> None:
    limits = Limits(max_inline_bytes=1024, max_blobs=3)
    image = {"base64": "iVBORw0KGgo="}
    plan = plan_object(
        _bucket(),
        ObjectInput(
            metadata={"a": 1, "b": 1},
            user_fields={"b": 2},
            blobs=[
                BlobInput(property="image", type="image", data=image, metadata={"a": 9, "c": 3}),
                BlobInput(property="image", type="image", data=image, metadata={"c": 4, "d": 4}),
                BlobInput(property="image", type="image", data=image, metadata={"status": "x"}),
            ],
        ),
        limits,
    )
    # root beats nested metadata; explicit beats blob; the first blob wins; reserved never taken
    assert plan.metadata == {"a": 1, "b": 2, "c": 3, "d": 4}
    with pytest.raises(InvalidArgument, match="status: these names belong to the object"):
        plan_object(_bucket(), ObjectInput(user_fields={"status": "mine"}), limits)


def test_plan_overrides() -> None:
    limits = Limits(max_inline_bytes=1024, max_blobs=2)
    request = ObjectInput(
        canonicalize_source=False,
        blobs=[
            BlobInput(
                property="t", type="string", data="x", canonicalize_source=True, force_remirror=True
            )
        ],
    )
    (blob,) = plan_object(_bucket(), request, limits).blobs
    assert blob.canonicalize is True and blob.force is True


def test_plan_sniffs_inline_bytes_before_any_write() -> None:
    limits = Limits(max_inline_bytes=1024, max_blobs=2)
    pdf = base64.b64encode(b"%PDF-1.4 x").decode()
    request = ObjectInput(blobs=[BlobInput(property="image", type="image", data={"base64": pdf})])
    with pytest.raises(InvalidArgument, match="application/pdf does not fit an image property"):
        plan_object(_bucket(), request, limits)
