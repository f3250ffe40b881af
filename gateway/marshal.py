"""The one JSON <-> proto marshaller of the gateway.

protobuf's json_format does the work; this module only bends it to the reference's JSON:
- snake_case field names as they are in the protos;
- enum values spelled as their `(bucketd.v1.json_value)` option says ("PENDING", "pdf"),
  accepted case-insensitively on input, as are the proto names ("FIELD_TYPE_PDF");
- 64-bit integers as JSON numbers (proto3 JSON would quote them);
- every field of a response present, `null` when unset (as the reference's Pydantic models do);
- `null` on input means "not set"; an undeclared key is refused (422 naming it and the accepted
  keys, as the public docs do since 2026-11-02), unless the message has a
  `(bucketd.v1.json_inline)` Struct field: then it goes there (the object bodies' user fields),
  and on output that field's keys are written at the root.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from google.api import field_behavior_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from bucketd.json_numbers import whole_numbers
from bucketd.spellings import json_values
from bucketd.v1 import common_pb2

_INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_INTEGER_TYPES = _INT64_TYPES | {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


@dataclass(frozen=True)
class FieldProblem:
    """One item of the 422 envelope's details.validation_errors."""

    field: str
    message: str
    kind: str


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
    def at(cls, field: str, message: str, kind: str) -> InvalidField:
        return cls(f"{field}: {message}", [FieldProblem(field, message, kind)])


def _is_well_known(descriptor: Descriptor) -> bool:
    return descriptor.full_name.startswith("google.protobuf.")


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _map_value_field(field: FieldDescriptor) -> FieldDescriptor:
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


def _enum_in(enum: EnumDescriptor, value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in json_values(enum):
        return value
    if isinstance(value, str) and value.lower() in _enum_lookup(enum):
        return _enum_lookup(enum)[value.lower()]
    allowed = ", ".join(accepted_enum_values(enum))
    raise InvalidField.at(path, f"{value!r} is not one of {allowed}", "enum")


def _scalar_from_text(field: FieldDescriptor, text: str, path: str) -> Any:
    """A query-string or path value converted to the field's JSON type."""
    if field.enum_type is not None:
        return _enum_in(field.enum_type, text, path)
    try:
        if field.type == FieldDescriptor.TYPE_BOOL:
            lowered = text.lower()
            if lowered not in {"true", "false", "1", "0"}:
                raise ValueError(text)
            return lowered in {"true", "1"}
        if field.type in _INTEGER_TYPES:
            return int(text)
        if field.type in _FLOAT_TYPES:
            return float(text)
    except ValueError:
        kind = "bool_parsing" if field.type == FieldDescriptor.TYPE_BOOL else "number_parsing"
        raise InvalidField.at(path, f"{text!r} is not a valid {_type_name(field)}", kind) from None
    return text


def _type_name(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "boolean (true or false)"
    return "integer" if field.type in _INTEGER_TYPES else "number"


def default_json_name(name: str) -> str:
    """protoc's JSON name for a field that declares none (lowerCamelCase)."""
    return re.sub(r"_([a-z0-9])", lambda match: match[1].upper(), name)


@cache
def json_key(field: FieldDescriptor) -> str:
    """The field's key in the reference's JSON: its proto name, or its `json_name` when the proto
    declares one (a field renamed in the proto for other languages keeps its JSON name)."""
    declared = field.json_name != default_json_name(field.name)
    return field.json_name if declared else field.name


def _field(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    field = descriptor.fields_by_name.get(key)
    if field is not None:
        return field
    return next((f for f in descriptor.fields if f.json_name == key), None)


@cache
def inline_field(descriptor: Descriptor) -> FieldDescriptor | None:
    """The message's `(bucketd.v1.json_inline)` Struct field, if it has one."""
    for field in descriptor.fields:
        if field.GetOptions().Extensions[common_pb2.json_inline]:
            return field
    return None


def _normalize_value(
    field: FieldDescriptor,
    value: Any,
    path: str,
    problems: list[FieldProblem],
    bound: tuple[str, ...],
) -> Any:
    if field.enum_type is not None:
        return _enum_in(field.enum_type, value, path)
    message = field.message_type
    if message is None or _is_well_known(message) or not isinstance(value, Mapping):
        return value
    return _normalize(message, value, path, problems, bound)


def _required(field: FieldDescriptor) -> bool:
    behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
    return field_behavior_pb2.REQUIRED in behaviors


def accepted_keys(descriptor: Descriptor, bound: tuple[str, ...] = ()) -> list[str]:
    """The keys a JSON body of this message may hold (`bound`: those the URL path sets)."""
    inline = inline_field(descriptor)
    return [json_key(f) for f in descriptor.fields if f.name not in bound and f is not inline]


def _normalize(
    descriptor: Descriptor,
    data: Mapping[str, Any],
    path: str,
    problems: list[FieldProblem],
    bound: tuple[str, ...] = (),
) -> dict[str, Any]:
    normalized: dict[str, Any] = {}
    inline = inline_field(descriptor)
    for key, value in data.items():
        field = _field(descriptor, key)
        here = f"{path}.{key}" if path else key
        if field is None and inline is not None:
            normalized.setdefault(inline.name, {})[key] = value
        elif field is None:
            accepted = ", ".join(accepted_keys(descriptor, bound))
            message = f"{key!r} is not a field here; accepted: {accepted}"
            problems.append(FieldProblem(here, message, "extra_forbidden"))
        elif value is None:
            continue
        elif _is_map(field) and isinstance(value, Mapping):
            value_field = _map_value_field(field)
            normalized[field.name] = {
                k: _normalize_value(value_field, v, f"{here}.{k}", problems, bound)
                for k, v in value.items()
            }
        elif field.is_repeated and isinstance(value, list):
            normalized[field.name] = [
                _normalize_value(field, item, f"{here}[{i}]", problems, bound)
                for i, item in enumerate(value)
            ]
        else:
            normalized[field.name] = _normalize_value(field, value, here, problems, bound)
    for field in descriptor.fields:
        if _required(field) and field.name not in normalized and field.name not in bound:
            here = f"{path}.{json_key(field)}" if path else json_key(field)
            problems.append(FieldProblem(here, "field required", "missing"))
    return normalized


def normalize_input(
    descriptor: Descriptor,
    data: Mapping[str, Any],
    bound: tuple[str, ...] = (),
    *,
    complete: bool = True,
) -> dict[str, Any]:
    """Drop nulls and resolve enum spellings (keys become proto field names); refuse, with one
    422 naming every field at fault, undeclared keys (listing the accepted ones) and missing
    required fields (`bound`: the fields the URL path sets)."""
    problems: list[FieldProblem] = []
    normalized = _normalize(descriptor, data, "", problems, bound)
    if not complete:
        problems = [p for p in problems if p.kind != "missing"]
    if problems:
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidField(f"Invalid request body: {summary}", problems)
    return normalized


def set_text_field(
    descriptor: Descriptor, data: dict[str, Any], dotted: str, values: list[str]
) -> None:
    """Set `dotted` (a field path from a URL path or query) in `data` unless already set."""
    *parents, last = dotted.split(".")
    target = data
    for name in parents:
        field = _field(descriptor, name)
        if field is None or field.message_type is None:
            return
        descriptor = field.message_type
        target = target.setdefault(field.name, {})
    field = _field(descriptor, last)
    if field is None or field.name in target or (field.message_type and not field.enum_type):
        return
    if field.is_repeated:
        target[field.name] = [_scalar_from_text(field, v, dotted) for v in values]
    else:
        target[field.name] = _scalar_from_text(field, values[-1], dotted)


def parse_request[M: Message](
    message_class: type[M],
    data: Mapping[str, Any],
    *,
    bound: tuple[str, ...] = (),
    complete: bool = True,
) -> M:
    """Build a request message from JSON-shaped data; MarshalError names what does not fit.
    `bound`: the fields the URL path sets (not body keys, at any depth: a batch's items name
    no bucket); `complete=False` for a message still being assembled (no required check)."""
    message = message_class()
    normalized = normalize_input(descriptor_of(message), data, bound, complete=complete)
    try:
        json_format.ParseDict(normalized, message)
    except json_format.ParseError as error:
        raise InvalidField(str(error), [FieldProblem("", str(error), "type_error")]) from None
    return message


def _denormalize(descriptor: Descriptor, data: dict[str, Any]) -> None:
    inline = inline_field(descriptor)
    if inline is not None:
        for key, value in (data.pop(inline.name, None) or {}).items():
            if _field(descriptor, key) is None:
                data[key] = value
    for field in descriptor.fields:
        key = json_key(field)
        if key != field.name:
            data[key] = data.pop(field.name, None)
        if field is inline or data.setdefault(key, None) is None:
            continue  # unset optional fields answer null, as in the reference
        if _is_map(field):
            value_field = _map_value_field(field)
            data[key] = {k: _output_value(value_field, v) for k, v in data[key].items()}
        elif field.is_repeated:
            data[key] = [_output_value(field, item) for item in data[key]]
        else:
            data[key] = _output_value(field, data[key])


def _output_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        number = field.enum_type.values_by_name[value].number if isinstance(value, str) else value
        return json_values(field.enum_type)[number] if number else None
    if field.type in _INT64_TYPES:
        return int(value)
    message = field.message_type
    if message is not None and not _is_well_known(message) and isinstance(value, dict):
        _denormalize(message, value)
    return value


def to_json(message: Message) -> dict[str, Any]:
    """The reference's JSON for a response message."""
    data: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _denormalize(descriptor_of(message), data)
    converted: dict[str, Any] = whole_numbers(data)
    return converted
