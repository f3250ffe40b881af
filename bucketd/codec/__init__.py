"""The JSON <-> proto codec of the contract: the one marshaller that the gateway, the client
and the scripts share (each depends on the contract and this codec, never on the others).

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

from bucketd.codec.decode import normalize_input, parse_request, text_values
from bucketd.codec.encode import to_json
from bucketd.codec.fields import (
    FieldProblem,
    InvalidField,
    MarshalError,
    accepted_enum_values,
    accepted_keys,
    default_json_name,
    descriptor_of,
    http_location,
    in_body,
    inline_field,
    json_key,
)
from bucketd.spellings import FILE_TYPES

__all__ = [
    "FILE_TYPES",
    "FieldProblem",
    "InvalidField",
    "MarshalError",
    "accepted_enum_values",
    "accepted_keys",
    "default_json_name",
    "descriptor_of",
    "http_location",
    "in_body",
    "inline_field",
    "json_key",
    "normalize_input",
    "parse_request",
    "text_values",
    "to_json",
]
