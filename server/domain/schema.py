"""Bucket schema rules (reference section 2: BucketSchemaField, UniqueKeyConfig)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bucketd.server.errors import InvalidArgument, PayloadTooLarge, Violation
from bucketd.spellings import FILE_TYPES, numbers
from bucketd.v1 import common_pb2

# The contract's FieldType values: those holding bytes (files), and the JSON ones.
FIELD_TYPES = frozenset(numbers(common_pb2.FieldType.DESCRIPTOR))
SCALAR_TYPES = frozenset({"string", "number", "integer", "float", "boolean", "date", "datetime"})
UNIQUE_KEY_POLICIES = frozenset({"insert", "update", "upsert"})

_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_PROPERTIES = 200
MAX_DEPTH = 5
# A schema is stored in its bucket's document (MongoDB keeps at most 16 MiB per document).
MAX_SCHEMA_BYTES = 1024 * 1024


def _invalid(path: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {message}", details={"field": path})


def _check_field(path: str, spec: Mapping[str, Any], depth: int) -> None:
    field_type = spec.get("type")
    if field_type not in FIELD_TYPES:
        allowed = ", ".join(sorted(FIELD_TYPES))
        raise _invalid(f"{path}.type", f"must be one of {allowed}, got {field_type!r}")
    if depth > MAX_DEPTH:
        raise _invalid(path, f"schemas nest at most {MAX_DEPTH} levels deep")
    if spec.get("items") and field_type != "array":
        raise _invalid(f"{path}.items", "is allowed only on fields of type array")
    if spec.get("properties") and field_type != "object":
        raise _invalid(f"{path}.properties", "is allowed only on fields of type object")
    if spec.get("items"):
        _check_field(f"{path}.items", spec["items"], depth + 1)
    _check_properties(f"{path}.properties", spec.get("properties") or {}, depth + 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_iso(value: Any, parse: Any) -> bool:
    try:
        parse(value)
    except (TypeError, ValueError):
        return False
    return True


# JSON arrives through google.protobuf.Value, whose numbers are doubles: 42 is 42.0 here.
_VALUE_CHECKS: dict[str, tuple[str, Any]] = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "number": ("a number", _is_number),
    "float": ("a number", _is_number),
    "integer": ("an integer", lambda v: _is_number(v) and float(v).is_integer()),
    "boolean": ("true or false", lambda v: isinstance(v, bool)),
    "date": ("an ISO 8601 date (2026-12-07)", lambda v: _is_iso(v, date.fromisoformat)),
    "datetime": (
        "an ISO 8601 date-time (2026-12-07T10:00:00Z)",
        lambda v: _is_iso(v, datetime.fromisoformat),
    ),
    "object": ("an object", lambda v: isinstance(v, dict)),
    "array": ("an array", lambda v: isinstance(v, list)),
}


def _check_value(path: str, spec: Mapping[str, Any], value: Any) -> None:
    """`value` fits the field `spec` (None, a field left empty, always does)."""
    kind = spec.get("type")
    if value is None or kind not in _VALUE_CHECKS:
        return
    described, fits = _VALUE_CHECKS[kind]
    if not fits(value):
        shown = json.dumps(value)[:40]
        raise InvalidArgument(
            f"{path}: the bucket schema declares it {kind}, so it must be {described}; got {shown}",
            details={"field": path},
            violations=[Violation(path, f"must be {described}", "type_error")],
        )
    if kind == "object":
        for name, inner in (spec.get("properties") or {}).items():
            if name in value:
                _check_value(f"{path}.{name}", inner, value[name])
    if kind == "array" and spec.get("items"):
        for index, item in enumerate(value):
            _check_value(f"{path}[{index}]", spec["items"], item)


def _check_properties(path: str, properties: Mapping[str, Any], depth: int) -> None:
    if len(properties) > MAX_PROPERTIES:
        raise _invalid(path, f"at most {MAX_PROPERTIES} fields, got {len(properties)}")
    for name, spec in properties.items():
        if not _PROPERTY_NAME.fullmatch(name):
            raise _invalid(
                f"{path}.{name}",
                "field names are 1-100 letters, digits or '_', not starting with a digit",
            )
        _check_field(f"{path}.{name}", spec, depth)


@dataclass(frozen=True)
class SchemaField:
    """One top-level field of a bucket schema."""

    name: str
    type: str
    spec: Mapping[str, Any]

    @property
    def is_file(self) -> bool:
        return self.type in FILE_TYPES


@dataclass(frozen=True)
class BucketSchema:
    """A bucket's `bucket_schema` (the reference's JSON shape, types lowercase), checked once."""

    properties: Mapping[str, Mapping[str, Any]]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> BucketSchema:
        """A new bucket's schema: InvalidArgument, naming the field path, if it is unusable."""
        properties = raw.get("properties") or {}
        if not properties:
            raise _invalid("bucket_schema.properties", "define at least one field")
        size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False, default=str).encode())
        if size > MAX_SCHEMA_BYTES:
            raise PayloadTooLarge(
                f"bucket_schema: {size} bytes of JSON exceed the limit of {MAX_SCHEMA_BYTES} "
                "bytes; shorten it (a long enum belongs in your own lookup table)",
                details={"field": "bucket_schema", "limit_bytes": str(MAX_SCHEMA_BYTES)},
            )
        _check_properties("bucket_schema.properties", properties, depth=1)
        return cls(properties)

    def to_dict(self) -> dict[str, Any]:
        return {"properties": {name: dict(spec) for name, spec in self.properties.items()}}

    def check_values(self, fields: Mapping[str, Any]) -> None:
        """Declared non-file fields hold values of their type (`title: string` never stores
        42); undeclared keys are the caller's own fields and pass as they are."""
        for name, value in fields.items():
            spec = self.properties.get(name)
            if spec is not None and spec.get("type") not in FILE_TYPES:
                _check_value(name, spec, value)

    def property(self, name: str, *, where: str) -> SchemaField:
        """The field `name`; the one error for a name the schema lacks names `where`."""
        spec = self.properties.get(name)
        if spec is None:
            known = ", ".join(sorted(self.properties))
            raise _invalid(where, f"{name!r} is not a field of the bucket schema ({known})")
        return SchemaField(name=name, type=spec["type"], spec=spec)

    def check_unique_key(self, unique_key: Mapping[str, Any]) -> None:
        """unique_key.fields name top-level scalar fields; the policy is known."""
        fields = unique_key.get("fields") or []
        if not fields:
            raise _invalid("unique_key.fields", "name at least one schema field")
        for index, name in enumerate(fields):
            field = self.property(name, where=f"unique_key.fields[{index}]")
            if field.type not in SCALAR_TYPES:
                raise _invalid(
                    f"unique_key.fields[{index}]",
                    f"{name!r} has type {field.type}; unique keys take scalar fields only",
                )
        policy = unique_key.get("default_policy")
        if policy is not None and policy not in UNIQUE_KEY_POLICIES:
            raise _invalid("unique_key.default_policy", "must be insert, update or upsert")

    def breaks(self, new: BucketSchema) -> list[str]:
        """What objects stored under this schema may not fit in `new`: a property removed, its
        type changed, or a property that becomes required (they may lack it)."""
        problems = []
        for name, spec in self.properties.items():
            if name not in new.properties:
                problems.append(f"{name!r} is removed")
            elif new.properties[name]["type"] != spec["type"]:
                problems.append(
                    f"{name!r} changes type {spec['type']} -> {new.properties[name]['type']}"
                )
            elif new.properties[name].get("required") and not spec.get("required"):
                problems.append(f"{name!r} becomes required")
        problems += [
            f"{name!r} is new and required"
            for name, spec in new.properties.items()
            if name not in self.properties and spec.get("required")
        ]
        return problems


def changed_unique_key(
    stored: Mapping[str, Any] | None, requested: Mapping[str, Any]
) -> dict[str, Any]:
    """A unique key change: only default_policy may change, `fields` repeat the stored key
    (every stored object is registered under it)."""
    if stored is None:
        raise _invalid(
            "unique_key", "this bucket was created without a unique key; it cannot get one now"
        )
    if list(requested.get("fields") or []) != list(stored["fields"]):
        raise _invalid(
            "unique_key.fields",
            f"must repeat the bucket's unique key fields {list(stored['fields'])}: the key is "
            "fixed at creation; only default_policy may change",
        )
    policy = requested.get("default_policy")
    if policy is not None and policy not in UNIQUE_KEY_POLICIES:
        raise _invalid("unique_key.default_policy", "must be insert, update or upsert")
    return {"fields": list(stored["fields"]), "default_policy": policy}
