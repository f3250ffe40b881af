"""The contract's JSON rules for one field: its JSON key, where REST carries it, its enum
spellings, whether it is required; and the errors a JSON value that does not fit raises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from bucketd.spellings import json_values
from bucketd.v1 import common_pb2

INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
INTEGER_TYPES = INT64_TYPES | {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}
FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


@dataclass(frozen=True)
class FieldProblem:
    """One item of the 422 envelope's details.validation_errors; `source` is where the field
    travels ("body" or "query")."""

    field: str
    message: str
    kind: str
    source: str = "body"


class MarshalError(ValueError):
    """The request cannot be read at all (malformed JSON, a bad header): 400."""

    status = 400

    def __init__(self, message: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class InvalidField(MarshalError):
    """Well-formed input that does not fit the request message (type, enum, an undeclared
    key): 422, naming the field(s)."""

    status = 422

    @classmethod
    def at(cls, field: str, message: str, kind: str, source: str = "body") -> InvalidField:
        return cls(f"{field}: {message}", [FieldProblem(field, message, kind, source)])


@cache  # asked of every field of every request: descriptors never change
def is_well_known(descriptor: Descriptor) -> bool:
    return descriptor.full_name.startswith("google.protobuf.")


@cache
def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def map_value_field(field: FieldDescriptor) -> FieldDescriptor:
    entry = field.message_type
    assert entry is not None
    return entry.fields_by_name["value"]


def descriptor_of(message: Message | type[Message]) -> Descriptor:
    """The message's Descriptor (the C and Python implementations differ only in type)."""
    return cast(Descriptor, message.DESCRIPTOR)


@cache
def _enum_lookup(enum: EnumDescriptor) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for value in enum.values:
        lookup[value.name.lower()] = value.number
        lookup[json_values(enum)[value.number].lower()] = value.number
    return lookup


def accepted_enum_values(enum: EnumDescriptor) -> list[str]:
    """The JSON spellings a caller may send (the unspecified zero value excluded)."""
    return [spelling for number, spelling in json_values(enum).items() if number != 0]


def enum_in(enum: EnumDescriptor, value: Any, path: str, source: str = "body") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in json_values(enum):
        return value
    if isinstance(value, str) and value.lower() in _enum_lookup(enum):
        return _enum_lookup(enum)[value.lower()]
    allowed = ", ".join(accepted_enum_values(enum))
    raise InvalidField.at(path, f"{value!r} is not one of {allowed}", "enum", source)


def default_json_name(name: str) -> str:
    """protoc's JSON name for a field that declares none (lowerCamelCase)."""
    return re.sub(r"_([a-z0-9])", lambda match: match[1].upper(), name)


@cache
def json_key(field: FieldDescriptor) -> str:
    """The field's key in the reference's JSON: its proto name, or its `json_name` when the proto
    declares one (a field renamed in the proto for other languages keeps its JSON name)."""
    declared = field.json_name != default_json_name(field.name)
    return field.json_name if declared else field.name


def field_named(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    field = descriptor.fields_by_name.get(key)
    if field is not None:
        return field
    return next((f for f in descriptor.fields if f.json_name == key), None)


@cache
def http_location(field: FieldDescriptor) -> int:
    """The field's `(bucketd.v1.http_in)`: where REST carries it (common_pb2.HttpLocation)."""
    return cast(int, field.GetOptions().Extensions[common_pb2.http_in])


def in_body(field: FieldDescriptor, bound: tuple[str, ...]) -> bool:
    """Whether a REST body may hold the field: not bound by the path, not query-only."""
    return field.name not in bound and http_location(field) != common_pb2.HTTP_LOCATION_QUERY


def body_field(
    descriptor: Descriptor, key: str, bound: tuple[str, ...], from_body: bool
) -> FieldDescriptor | None:
    field = field_named(descriptor, key)
    if field is None or not from_body or in_body(field, bound):
        return field
    return None


@cache
def inline_field(descriptor: Descriptor) -> FieldDescriptor | None:
    """The message's `(bucketd.v1.json_inline)` Struct field, if it has one."""
    for field in descriptor.fields:
        if field.GetOptions().Extensions[common_pb2.json_inline]:
            return field
    return None


@cache
def is_required(field: FieldDescriptor) -> bool:
    behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
    return field_behavior_pb2.REQUIRED in behaviors


def accepted_keys(
    descriptor: Descriptor, bound: tuple[str, ...] = (), *, from_body: bool = False
) -> list[str]:
    """The keys a JSON body of this message may hold (`bound`: those the URL path sets)."""
    inline = inline_field(descriptor)
    return [
        json_key(f)
        for f in descriptor.fields
        if f is not inline and (in_body(f, bound) if from_body else f.name not in bound)
    ]
