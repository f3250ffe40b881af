"""Enum values as the reference spells them, read from the `(bucketd.v1.json_value)` option.

Shared by the servicers (proto <-> domain strings) and the gateway's marshaller (JSON).
"""

from __future__ import annotations

from functools import cache

from google.protobuf.descriptor import EnumDescriptor

from bucketd.v1 import buckets_pb2, common_pb2


@cache
def json_values(enum: EnumDescriptor) -> dict[int, str]:
    """Enum number -> spelling (the json_value option, else the proto name)."""
    spelled: dict[int, str] = {}
    for value in enum.values:
        options = value.GetOptions()
        has_option = options.HasExtension(common_pb2.json_value)
        spelled[value.number] = (
            options.Extensions[common_pb2.json_value] if has_option else value.name
        )
    return spelled


@cache
def numbers(enum: EnumDescriptor) -> dict[str, int]:
    """Spelling -> enum number (the inverse of json_values, zero value excluded)."""
    return {spelling: number for number, spelling in json_values(enum).items() if number}


def spelling(enum: EnumDescriptor, number: int) -> str | None:
    """The spelling of a set value; None for the unspecified zero value."""
    return json_values(enum)[number] if number else None


FIELD_TYPE = common_pb2.FieldType.DESCRIPTOR
TASK_STATUS = common_pb2.TaskStatus.DESCRIPTOR
SORT_DIRECTION = common_pb2.SortDirection.DESCRIPTOR
UNIQUE_KEY_POLICY = buckets_pb2.UniqueKeyPolicy.DESCRIPTOR
