"""gateway/ranges.py: Range headers at every edge, validators, and filenames that must not break
Content-Disposition."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from bucketd.gateway.ranges import (
    UNSATISFIABLE,
    Wanted,
    disposition,
    etag,
    none_match,
    range_applies,
    wanted,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", Wanted(0, 1)),
        ("bytes=0-", Wanted(0, 0)),
        ("bytes=10-19", Wanted(10, 10)),
        ("BYTES = 5 - 5", Wanted(5, 1)),
        ("bytes=-1", Wanted(-1, 0)),
        ("bytes=-500", Wanted(-500, 0)),
        ("bytes=-0", UNSATISFIABLE),
        (None, None),
        ("", None),
        ("bytes=0-1,5-6", None),  # multi-range: the whole body
        ("bytes=9-3", None),  # malformed: ignored
        ("bytes=-", None),
        ("items=0-1", None),
        ("bytes=a-b", None),
    ],
)
def test_range_headers(header: str | None, expected: Wanted | None) -> None:
    assert wanted(header) == expected


def test_validators() -> None:
    current = etag("sha256:abc")
    assert current == '"abc"'
    assert etag("") is None
    assert none_match('"abc"', current) and none_match('W/"abc", "x"', current)
    assert none_match("*", current)
    assert not none_match('"x"', current) and not none_match(None, current)
    assert range_applies(None, current) and range_applies('"abc"', current)
    assert not range_applies('W/"abc"', current)
    assert not range_applies("Tue, 15 Nov 1994 08:12:31 GMT", current)


@pytest.mark.parametrize(
    "filename",
    [
        'a "quoted" name.txt',
        "back\\slash.txt",
        "semi;colon.pdf",
        "über résumé.pdf",
        "日本.png",
        "%41",
    ],
)
def test_disposition_cannot_be_broken(filename: str) -> None:
    header = disposition(filename)
    assert header is not None
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert fallback.isascii() and '"' not in fallback and "\\" not in fallback
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == filename


def test_disposition_keeps_the_last_path_segment() -> None:
    assert disposition("dir/name.txt") == (
        "attachment; filename=\"name.txt\"; filename*=UTF-8''name.txt"
    )
    assert disposition("") is None
