"""BucketSchema: parsed once, one error for a property it lacks, unique-key rules."""

from __future__ import annotations

import pytest

from bucketd.server.domain.schema import BucketSchema
from bucketd.server.errors import InvalidArgument

SCHEMA = BucketSchema.parse(
    {"properties": {"image": {"type": "image"}, "title": {"type": "string"}}}
)


def test_property_answers_its_type() -> None:
    field = SCHEMA.property("image", where="blobs[0].property")
    assert (field.name, field.type, field.is_file) == ("image", "image", True)
    assert not SCHEMA.property("title", where="x").is_file


def test_missing_property_is_one_error_naming_where_and_the_known_fields() -> None:
    with pytest.raises(InvalidArgument) as raised:
        SCHEMA.property("video", where="header.blobs[2].property")
    assert raised.value.message == (
        "header.blobs[2].property: 'video' is not a field of the bucket schema (image, title)"
    )
    assert raised.value.details == {"field": "header.blobs[2].property"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"properties": {}}, "bucket_schema.properties: define at least one field"),
        ({"properties": {"x": {"type": "blob"}}}, "bucket_schema.properties.x.type: must be one"),
        ({"properties": {"9x": {"type": "string"}}}, "field names are 1-100 letters"),
        (
            {"properties": {"x": {"type": "string", "items": {"type": "string"}}}},
            "items: is allowed only on fields of type array",
        ),
    ],
)
def test_unusable_schemas_are_refused_naming_the_path(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        BucketSchema.parse(raw)


def test_unique_key_takes_scalar_fields_and_a_known_policy() -> None:
    SCHEMA.check_unique_key({"fields": ["title"], "default_policy": "upsert"})
    with pytest.raises(InvalidArgument, match=r"unique_key.fields\[0\]: 'image' has type image"):
        SCHEMA.check_unique_key({"fields": ["image"]})
    with pytest.raises(InvalidArgument, match=r"unique_key.fields\[0\]: 'nope' is not a field"):
        SCHEMA.check_unique_key({"fields": ["nope"]})
    with pytest.raises(InvalidArgument, match="must be insert, update or upsert"):
        SCHEMA.check_unique_key({"fields": ["title"], "default_policy": "merge"})
