"""Bucket schema rules (reference section 2: BucketSchemaField, UniqueKeyConfig)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bucketd.server.errors import InvalidArgument

METADATA_TYPES = frozenset(
    {"string", "number", "integer", "float", "boolean", "object", "array", "date", "datetime"}
)
FILE_TYPES = frozenset({"text", "image", "audio", "video", "pdf", "excel"})
FIELD_TYPES = METADATA_TYPES | FILE_TYPES
SCALAR_TYPES = frozenset({"string", "number", "integer", "float", "boolean", "date", "datetime"})
UNIQUE_KEY_POLICIES = frozenset({"insert", "update", "upsert"})

_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_PROPERTIES = 200
MAX_DEPTH = 5


def _invalid(path: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {message}", details={"field": path})


def _check_field(path: str, spec: Mapping[str, Any], depth: int) -> None:
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        allowed = ", ".join(sorted(FIELD_TYPES))
        raise _invalid(f"{path}.type", f"must be one of {allowed}, got {kind!r}")
    if depth > MAX_DEPTH:
        raise _invalid(path, f"schemas nest at most {MAX_DEPTH} levels deep")
    if spec.get("items") and kind != "array":
        raise _invalid(f"{path}.items", "is allowed only on fields of type array")
    if spec.get("properties") and kind != "object":
        raise _invalid(f"{path}.properties", "is allowed only on fields of type object")
    if spec.get("items"):
        _check_field(f"{path}.items", spec["items"], depth + 1)
    _check_properties(f"{path}.properties", spec.get("properties") or {}, depth + 1)


def _check_properties(path: str, properties: Mapping[str, Any], depth: int) -> None:
    if len(properties) > MAX_PROPERTIES:
        raise _invalid(path, f"at most {MAX_PROPERTIES} fields, got {len(properties)}")
    for name, spec in properties.items():
        if not _PROPERTY_NAME.match(name):
            raise _invalid(
                f"{path}.{name}",
                "field names are 1-100 letters, digits or '_', not starting with a digit",
            )
        _check_field(f"{path}.{name}", spec, depth)


def validate_schema(schema: Mapping[str, Any]) -> None:
    """Raise InvalidArgument, naming the field path, unless `schema` is a usable bucket schema."""
    properties = schema.get("properties") or {}
    if not properties:
        raise _invalid("bucket_schema.properties", "define at least one field")
    _check_properties("bucket_schema.properties", properties, depth=1)


def validate_unique_key(unique_key: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """unique_key.fields name top-level scalar fields of the schema; the policy is known."""
    fields = unique_key.get("fields") or []
    if not fields:
        raise _invalid("unique_key.fields", "name at least one schema field")
    properties = schema.get("properties") or {}
    for index, name in enumerate(fields):
        spec = properties.get(name)
        if spec is None:
            raise _invalid(
                f"unique_key.fields[{index}]", f"{name!r} is not a field of bucket_schema"
            )
        if spec.get("type") not in SCALAR_TYPES:
            raise _invalid(
                f"unique_key.fields[{index}]",
                f"{name!r} has type {spec.get('type')}; unique keys take scalar fields only",
            )
    policy = unique_key.get("default_policy")
    if policy is not None and policy not in UNIQUE_KEY_POLICIES:
        raise _invalid("unique_key.default_policy", "must be insert, update or upsert")
