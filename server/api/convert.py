"""Proto <-> domain conversions shared by the servicers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from bucketd.json_numbers import whole_numbers
from bucketd.server.api import enums
from bucketd.server.domain.listing import ListQuery
from bucketd.server.errors import InvalidArgument
from bucketd.v1 import buckets_pb2, common_pb2


def optional(message: Any, name: str) -> Any:
    """The value of an explicit-presence field, or None when it is not set."""
    return getattr(message, name) if message.HasField(name) else None


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def struct(value: dict[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if value:
        message.update(value)
    return message


def _json_of(message: struct_pb2.Struct | struct_pb2.Value) -> Any:
    try:
        return whole_numbers(json_format.MessageToDict(message))
    except ValueError:  # protobuf refuses to turn NaN and Infinity into JSON
        raise InvalidArgument(
            "NaN and Infinity are not JSON numbers: send finite numbers"
        ) from None


def value(data: Any) -> struct_pb2.Value:
    """A JSON value as a google.protobuf.Value."""
    message = struct_pb2.Value()
    json_format.ParseDict(data, message)
    return message


def to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    converted: dict[str, Any] = _json_of(message)
    return converted


def value_of(message: struct_pb2.Value) -> Any:
    return _json_of(message)


def status(value: str) -> common_pb2.TaskStatus.ValueType:
    return common_pb2.TaskStatus.ValueType(enums.numbers(enums.TASK_STATUS)[value])


def field_type(value: str) -> common_pb2.FieldType.ValueType:
    return common_pb2.FieldType.ValueType(enums.numbers(enums.FIELD_TYPE)[value])


def list_query(request: Any) -> ListQuery:
    """The list parameters of any List…Request (fields it does not have stay unset)."""
    fields = request.DESCRIPTOR.fields_by_name
    has_filters = "filters" in fields and request.HasField("filters")
    # `sorts`, the newer form, wins over `sort`: its first entry (bucketd sorts by one field).
    sort = request.sorts[0] if "sorts" in fields and request.sorts else request.sort
    return ListQuery(
        filters=to_dict(request.filters) if has_filters else None,
        search=request.search,
        sort_field=sort.field or None,
        sort_direction=enums.spelling(enums.SORT_DIRECTION, sort.direction),
        case_sensitive=bool(getattr(request, "case_sensitive", False)),
        limit=_first_set(request, "limit", "page_size"),
        offset=optional(request, "offset"),
        page_number=optional(request, "page"),
        cursor=_first_set(request, "cursor", "next_cursor", "after") or None,
        include_total=request.include_total,
        select=tuple(getattr(request, "select", ())),
    )


def _first_set(request: Any, *names: str) -> Any:
    """The first of a field's synonyms that is set (limit/page_size, cursor/next_cursor/after)."""
    return next((optional(request, n) for n in names if request.HasField(n)), None)


def pagination(values: dict[str, Any]) -> common_pb2.Pagination:
    return common_pb2.Pagination(**{k: v for k, v in values.items() if v is not None})


def schema_field_to_dict(spec: buckets_pb2.BucketSchemaField) -> dict[str, Any]:
    """The reference's JSON shape of a schema field, with the type spelled lowercase."""
    field: dict[str, Any] = {
        "type": enums.spelling(enums.FIELD_TYPE, spec.type),
        "required": spec.required,
    }
    if spec.HasField("description"):
        field["description"] = spec.description
    if spec.enum:
        field["enum"] = [value_of(v) for v in spec.enum]
    if spec.HasField("default"):
        field["default"] = value_of(spec.default)
    if spec.examples:
        field["examples"] = [value_of(v) for v in spec.examples]
    if spec.HasField("items"):
        field["items"] = schema_field_to_dict(spec.items)
    if spec.properties:
        field["properties"] = {k: schema_field_to_dict(v) for k, v in spec.properties.items()}
    return field


def schema_field_from_dict(field: dict[str, Any]) -> buckets_pb2.BucketSchemaField:
    spec = buckets_pb2.BucketSchemaField(
        type=common_pb2.FieldType.ValueType(enums.numbers(enums.FIELD_TYPE)[field["type"]]),
        required=bool(field.get("required", False)),
    )
    if field.get("description") is not None:
        spec.description = field["description"]
    for value in field.get("enum", []):
        json_format.ParseDict(value, spec.enum.add())
    if "default" in field:
        json_format.ParseDict(field["default"], spec.default)
    for value in field.get("examples", []):
        json_format.ParseDict(value, spec.examples.add())
    if field.get("items"):
        spec.items.CopyFrom(schema_field_from_dict(field["items"]))
    for name, nested in (field.get("properties") or {}).items():
        spec.properties[name].CopyFrom(schema_field_from_dict(nested))
    return spec


def schema_to_dict(schema: buckets_pb2.BucketSchema) -> dict[str, Any]:
    return {"properties": {k: schema_field_to_dict(v) for k, v in schema.properties.items()}}


def schema_from_dict(schema: dict[str, Any]) -> buckets_pb2.BucketSchema:
    message = buckets_pb2.BucketSchema()
    for name, field in (schema.get("properties") or {}).items():
        message.properties[name].CopyFrom(schema_field_from_dict(field))
    return message


def unique_key_to_dict(config: buckets_pb2.UniqueKeyConfig) -> dict[str, Any]:
    return {
        "fields": list(config.fields),
        "default_policy": enums.spelling(enums.UNIQUE_KEY_POLICY, config.default_policy),
    }


def unique_key_from_dict(config: dict[str, Any]) -> buckets_pb2.UniqueKeyConfig:
    policy = config.get("default_policy")
    return buckets_pb2.UniqueKeyConfig(
        fields=config.get("fields", []),
        default_policy=buckets_pb2.UniqueKeyPolicy.ValueType(
            enums.numbers(enums.UNIQUE_KEY_POLICY)[policy] if policy else 0
        ),
    )
