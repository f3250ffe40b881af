"""Enum values as the contract spells them in JSON (the `(bucketd.v1.json_value)` option), and
which field types hold a file (`(bucketd.v1.holds_bytes)`).

Read from the descriptors of bucketd.v1, shared by the server (proto <-> domain strings) and the
gateway (JSON), neither of which reaches into the other for it.
"""

from __future__ import annotations

from functools import cache

from google.protobuf.descriptor import EnumDescriptor

from bucketd.v1 import common_pb2


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


def _file_types() -> frozenset[str]:
    enum = common_pb2.FieldType.DESCRIPTOR
    return frozenset(
        json_values(enum)[value.number]
        for value in enum.values
        if value.GetOptions().Extensions[common_pb2.holds_bytes]
    )


# The bucket schema types whose properties hold a blob's bytes (text, image, ..., excel).
FILE_TYPES = _file_types()
