"""CreateUpload rules: names, MIME types, sizes, expiry and the blob property."""

from __future__ import annotations

from typing import Any

import pytest

from bucketd.server.domain.schema import BucketSchema
from bucketd.server.domain.uploads import UploadRequest, check_request, derived_blob_type, s3_key
from bucketd.server.errors import InvalidArgument, PayloadTooLarge

SCHEMA = BucketSchema.parse({"properties": {"video": {"type": "video"}, "doc": {"type": "pdf"}}})


def _check(**fields: Any) -> UploadRequest:
    request = UploadRequest(**{"filename": "video.mp4", "content_type": "video/mp4", **fields})
    return check_request(request, schema=SCHEMA, max_bytes=1000)


def test_defaults_are_filled_in() -> None:
    checked = _check()
    assert checked.blob_property == "video"  # the filename without its extension
    assert checked.blob_type == "VIDEO"
    assert checked.presigned_url_expiration == 3600


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"filename": ""}, "filename: must be 1 to 255"),
        ({"filename": "a/b.mp4"}, "without path separators"),
        ({"filename": "a\\b.mp4"}, "without path separators"),
        ({"filename": "..mp4"}, "'..'"),
        ({"filename": "a\nb.mp4"}, "control characters"),
        ({"content_type": "video"}, "is not a MIME type"),
        ({"presigned_url_expiration": 86401}, "60 to 86400"),
        ({"file_hash": "A" * 64}, "64 lowercase hex"),
        ({"blob_property": "bad-name"}, "letters, digits and '_'"),
        ({"blob_property": "doc"}, "video/mp4 does not fit the pdf property"),
        ({"file_size_bytes": -1}, "0 or more"),
    ],
)
def test_refusals_name_the_field(fields: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment.replace("\\", "\\\\").replace("(", "\\(")):
        _check(**fields)


def test_size_cap() -> None:
    with pytest.raises(PayloadTooLarge, match="limit of 1000 bytes"):
        _check(file_size_bytes=1001)


def test_no_schema_check_without_create_object_on_confirm() -> None:
    assert _check(blob_property="anything-goes", create_object_on_confirm=False).blob_property


def test_derived_types_and_key_layout() -> None:
    assert derived_blob_type("application/pdf") == "PDF"
    assert derived_blob_type("image/png") == "IMAGE"
    assert derived_blob_type("application/zip") is None
    assert s3_key("org_1", "ns_1", "upl_1", "a.mp4") == (
        "org_1/ns_1/api_buckets_uploads_create/upl_1/a.mp4"
    )
