"""Declared fields hold values of their declared type; undeclared keys are the caller's own."""

from __future__ import annotations

from typing import Any

import pytest

from bucketd.server.domain import mime
from bucketd.server.domain.schema import BucketSchema
from bucketd.server.errors import InvalidArgument

SCHEMA = BucketSchema.parse(
    {
        "properties": {
            "title": {"type": "string"},
            "pages": {"type": "integer"},
            "score": {"type": "number"},
            "draft": {"type": "boolean"},
            "published": {"type": "date"},
            "seen_at": {"type": "datetime"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "author": {"type": "object", "properties": {"age": {"type": "integer"}}},
            "cover": {"type": "image"},
        }
    }
)


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "a", "pages": 3, "score": 2.5, "draft": False},
        {"pages": 3.0},  # JSON numbers arrive as doubles through google.protobuf.Value
        {"published": "2026-12-07", "seen_at": "2026-12-07T10:00:00Z"},
        {"tags": ["a", "b"], "author": {"age": 40, "name": "undeclared inside"}},
        {"title": None},  # left empty
        {"anything": 42, "nested": {"x": [1, "y"]}},  # undeclared: the caller's own
    ],
)
def test_values_of_the_declared_type_pass(fields: dict[str, Any]) -> None:
    SCHEMA.check_values(fields)


@pytest.mark.parametrize(
    ("fields", "path", "said"),
    [
        ({"title": 42}, "title", "must be a string"),
        ({"pages": 2.5}, "pages", "must be an integer"),
        ({"pages": True}, "pages", "must be an integer"),
        ({"score": "high"}, "score", "must be a number"),
        ({"draft": "no"}, "draft", "must be true or false"),
        ({"published": "yesterday"}, "published", "ISO 8601 date"),
        ({"seen_at": "10 o'clock"}, "seen_at", "ISO 8601 date-time"),
        ({"tags": "a,b"}, "tags", "must be an array"),
        ({"tags": ["a", 1]}, "tags[1]", "must be a string"),
        ({"author": {"age": "forty"}}, "author.age", "must be an integer"),
    ],
)
def test_a_value_that_contradicts_its_type_is_refused_naming_the_field(
    fields: dict[str, Any], path: str, said: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        SCHEMA.check_values(fields)
    assert refused.value.details["field"] == path
    assert said in refused.value.message and refused.value.message.startswith(f"{path}:")


def test_an_empty_file_is_no_image_but_may_be_text() -> None:
    with pytest.raises(InvalidArgument, match="an empty file is no image file"):
        mime.check_not_empty("blobs[0].data", "image", 0)
    mime.check_not_empty("blobs[0].data", "text", 0)
    mime.check_not_empty("blobs[0].data", "image", 1)
