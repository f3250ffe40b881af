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
  and on output that field's keys are written at the root;
- in a REST body (`from_body`), a field the URL path binds or that travels only in the query
  string (`(bucketd.v1.http_in) = HTTP_LOCATION_QUERY`) is not a key of the body, at any depth.
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


def _enum_in(enum: EnumDescriptor, value: Any, path: str, source: str = "body") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in json_values(enum):
        return value
    if isinstance(value, str) and value.lower() in _enum_lookup(enum):
        return _enum_lookup(enum)[value.lower()]
    allowed = ", ".join(accepted_enum_values(enum))
    raise InvalidField.at(path, f"{value!r} is not one of {allowed}", "enum", source)


def _scalar_from_text(field: FieldDescriptor, text: str, path: str, source: str) -> Any:
    """A query-string or path value converted to the field's JSON type."""
    if field.enum_type is not None:
        return _enum_in(field.enum_type, text, path, source)
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
        message = f"{text!r} is not a valid {_type_name(field)}"
        raise InvalidField.at(path, message, kind, source) from None
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


def http_location(field: FieldDescriptor) -> int:
    """The field's `(bucketd.v1.http_in)`: where REST carries it (common_pb2.HttpLocation)."""
    return cast(int, field.GetOptions().Extensions[common_pb2.http_in])


def in_body(field: FieldDescriptor, bound: tuple[str, ...]) -> bool:
    """Whether a REST body may hold the field: not bound by the path, not query-only."""
    return field.name not in bound and http_location(field) != common_pb2.HTTP_LOCATION_QUERY


def _body_field(
    descriptor: Descriptor, key: str, bound: tuple[str, ...], from_body: bool
) -> FieldDescriptor | None:
    field = _field(descriptor, key)
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


@dataclass(frozen=True)
class _Rules:
    """What a body may hold: `bound` names the fields the URL path sets; `from_body` says the
    data is a REST body (query-only fields are not its keys)."""

    bound: tuple[str, ...] = ()
    from_body: bool = False


def _normalize_value(
    field: FieldDescriptor, value: Any, path: str, problems: list[FieldProblem], rules: _Rules
) -> Any:
    if field.enum_type is not None:
        return _enum_in(field.enum_type, value, path)
    message = field.message_type
    if message is None or _is_well_known(message) or not isinstance(value, Mapping):
        return value
    return _normalize(message, value, path, problems, rules)


def _required(field: FieldDescriptor) -> bool:
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


def _normalize(
    descriptor: Descriptor,
    data: Mapping[str, Any],
    path: str,
    problems: list[FieldProblem],
    rules: _Rules,
) -> dict[str, Any]:
    normalized: dict[str, Any] = {}
    inline = inline_field(descriptor)
    for key, value in data.items():
        field = _body_field(descriptor, key, rules.bound, rules.from_body)
        here = f"{path}.{key}" if path else key
        if field is None and inline is not None:
            normalized.setdefault(inline.name, {})[key] = value
        elif field is None:
            accepted = ", ".join(accepted_keys(descriptor, rules.bound, from_body=rules.from_body))
            message = f"{key!r} is not a field here; accepted: {accepted}"
            problems.append(FieldProblem(here, message, "extra_forbidden"))
        elif value is None:
            continue
        elif _is_map(field) and isinstance(value, Mapping):
            value_field = _map_value_field(field)
            normalized[field.name] = {
                k: _normalize_value(value_field, v, f"{here}.{k}", problems, rules)
                for k, v in value.items()
            }
        elif field.is_repeated and isinstance(value, list):
            normalized[field.name] = [
                _normalize_value(field, item, f"{here}[{i}]", problems, rules)
                for i, item in enumerate(value)
            ]
        else:
            normalized[field.name] = _normalize_value(field, value, here, problems, rules)
    for field in descriptor.fields:
        if _required(field) and field.name not in normalized and field.name not in rules.bound:
            here = f"{path}.{json_key(field)}" if path else json_key(field)
            problems.append(FieldProblem(here, "field required", "missing"))
    return normalized


def _refuse(problems: list[FieldProblem], what: str = "request body") -> None:
    if problems:
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidField(f"Invalid {what}: {summary}", problems)


def normalize_input(
    descriptor: Descriptor,
    data: Mapping[str, Any],
    bound: tuple[str, ...] = (),
    *,
    complete: bool = True,
    from_body: bool = False,
) -> dict[str, Any]:
    """Drop nulls and resolve enum spellings (keys become proto field names); refuse, with one
    422 naming every field at fault, undeclared keys (listing the accepted ones) and missing
    required fields (`bound`: the fields the URL path sets)."""
    problems: list[FieldProblem] = []
    normalized = _normalize(descriptor, data, "", problems, _Rules(bound, from_body))
    _refuse([p for p in problems if complete or p.kind != "missing"])
    return normalized


def text_values(
    fields: Mapping[str, FieldDescriptor], texts: Mapping[str, list[str]], *, source: str
) -> dict[str, Any]:
    """Path or query values (`texts`: name -> values) typed for their fields and keyed by proto
    field name; a name `fields` does not hold is refused (422) naming those it does."""
    unknown = [name for name in texts if name not in fields]
    accepted = ", ".join(fields) or "none"
    _refuse(
        [
            FieldProblem(
                name,
                f"{name!r} is not a {source} parameter here; accepted: {accepted}",
                "extra_forbidden",
                source,
            )
            for name in unknown
        ],
        f"{source} parameters",
    )
    typed: dict[str, Any] = {}
    for name, values in texts.items():
        field = fields[name]
        if field.is_repeated:
            typed[field.name] = [_scalar_from_text(field, v, name, source) for v in values]
        else:
            typed[field.name] = _scalar_from_text(field, values[-1], name, source)
    return typed


def parse_request[M: Message](
    message_class: type[M],
    data: Mapping[str, Any],
    *,
    bound: tuple[str, ...] = (),
    complete: bool = True,
    from_body: bool = False,
    fixed: Mapping[str, Any] | None = None,
) -> M:
    """Build a request message from JSON-shaped data; MarshalError names what does not fit.
    `bound`: the fields the URL path sets (not body keys, at any depth: a batch's items name
    no bucket); `complete=False` for a message still being assembled (no required check);
    `from_body`: `data` is a REST body; `fixed`: path and query values from `text_values`
    (a body value wins over a query one)."""
    message = message_class()
    normalized = normalize_input(
        descriptor_of(message), data, bound, complete=complete, from_body=from_body
    )
    for name, value in (fixed or {}).items():
        normalized.setdefault(name, value)
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
