"""Response messages to the reference's JSON."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from bucketd.codec.fields import (
    INT64_TYPES,
    descriptor_of,
    field_named,
    inline_field,
    is_map,
    is_well_known,
    json_key,
    map_value_field,
)
from bucketd.json_numbers import whole_numbers
from bucketd.spellings import json_values


def _denormalize(descriptor: Descriptor, data: dict[str, Any]) -> None:
    inline = inline_field(descriptor)
    if inline is not None:
        for key, value in (data.pop(inline.name, None) or {}).items():
            if field_named(descriptor, key) is None:
                data[key] = value
    for field in descriptor.fields:
        key = json_key(field)
        if key != field.name:
            data[key] = data.pop(field.name, None)
        if field is inline or data.setdefault(key, None) is None:
            continue  # unset optional fields answer null, as in the reference
        if is_map(field):
            value_field = map_value_field(field)
            data[key] = {k: _output_value(value_field, v) for k, v in data[key].items()}
        elif field.is_repeated:
            data[key] = [_output_value(field, item) for item in data[key]]
        else:
            data[key] = _output_value(field, data[key])


def _output_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        number = field.enum_type.values_by_name[value].number if isinstance(value, str) else value
        return json_values(field.enum_type)[number] if number else None
    if field.type in INT64_TYPES:
        return int(value)
    message = field.message_type
    if message is not None and not is_well_known(message) and isinstance(value, dict):
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
