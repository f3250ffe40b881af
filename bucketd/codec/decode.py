"""JSON (a REST body, a client's keyword arguments, path and query text) to request messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from bucketd.codec.fields import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    FieldProblem,
    InvalidField,
    accepted_keys,
    body_field,
    descriptor_of,
    enum_in,
    inline_field,
    is_map,
    is_required,
    is_well_known,
    json_key,
    map_value_field,
)


def _scalar_from_text(field: FieldDescriptor, text: str, path: str, source: str) -> Any:
    """A query-string or path value converted to the field's JSON type."""
    if field.enum_type is not None:
        return enum_in(field.enum_type, text, path, source)
    try:
        if field.type == FieldDescriptor.TYPE_BOOL:
            lowered = text.lower()
            if lowered not in {"true", "false", "1", "0"}:
                raise ValueError(text)
            return lowered in {"true", "1"}
        if field.type in INTEGER_TYPES:
            return int(text)
        if field.type in FLOAT_TYPES:
            return float(text)
    except ValueError:
        kind = "bool_parsing" if field.type == FieldDescriptor.TYPE_BOOL else "number_parsing"
        message = f"{text!r} is not a valid {_type_name(field)}"
        raise InvalidField.at(path, message, kind, source) from None
    return text


def _type_name(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "boolean (true or false)"
    return "integer" if field.type in INTEGER_TYPES else "number"


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
        return enum_in(field.enum_type, value, path)
    message = field.message_type
    if message is None or is_well_known(message) or not isinstance(value, Mapping):
        return value
    return _normalize(message, value, path, problems, rules)


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
        field = body_field(descriptor, key, rules.bound, rules.from_body)
        here = f"{path}.{key}" if path else key
        if field is None and inline is not None:
            normalized.setdefault(inline.name, {})[key] = value
        elif field is None:
            accepted = ", ".join(accepted_keys(descriptor, rules.bound, from_body=rules.from_body))
            message = f"{key!r} is not a field here; accepted: {accepted}"
            problems.append(FieldProblem(here, message, "extra_forbidden"))
        elif value is None:
            continue
        elif is_map(field) and isinstance(value, Mapping):
            value_field = map_value_field(field)
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
        if is_required(field) and field.name not in normalized and field.name not in rules.bound:
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
