"""OpenAPI 3.1 document generated from the same descriptors as the routes; its summaries and
descriptions are the protos' comments (bucketd/v1/comments.py, generated with the stubs)."""

from __future__ import annotations

import dataclasses
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from bucketd.codec import accepted_enum_values, in_body, inline_field, json_key
from bucketd.gateway import openapi_read
from bucketd.gateway.errors import ERROR_TYPE
from bucketd.gateway.openapi_examples import EXAMPLES
from bucketd.gateway.routes import Kind, Route, routes_from
from bucketd.gateway.uploads import PROTOCOL_DOCS
from bucketd.v1.comments import COMMENTS

_BEHAVIOR = field_behavior_pb2.field_behavior

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "status", "error"],
    "properties": {
        "success": {"type": "boolean", "const": False, "description": "Always false here."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "error": {
            "type": "object",
            "description": "What failed and what to fix.",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string", "description": "What to fix, in words."},
                "type": {
                    "type": "string",
                    "description": "The failure's name (the reference's Error Guide).",
                    "examples": sorted(set(ERROR_TYPE.values())),
                },
                "details": {
                    "type": ["object", "null"],
                    "description": "reason, the fields at fault (validation_errors), limits.",
                },
            },
        },
    },
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, or null."""
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        nullable = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            nullable["enum"] = [*schema["enum"], None]
        return nullable
    if not schema:  # any value: null included
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


class _Schemas:
    """Collects one component schema per message reachable from the routes."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"ErrorResponse": _ERROR_SCHEMA}
        # The path's fields while a request body is described: no body key at any depth, as
        # the codec reads them (a batch's items name no bucket: the path does).
        self._bound: tuple[str, ...] = ()
        self._built_without: dict[str, tuple[str, ...]] = {}

    def described(self, schema: dict[str, Any], full_name: str) -> dict[str, Any]:
        """`schema` with the proto comment of `full_name` as its description, if it has one."""
        comment = COMMENTS.get(full_name)
        return {**schema, "description": comment} if comment else schema

    def ref(self, message: Descriptor) -> dict[str, Any]:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        name = message.full_name.removeprefix("bucketd.v1.")
        skip = tuple(f for f in self._bound if f in message.fields_by_name)
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursive messages refer to themselves
            self._built_without[name] = skip
            self.components[name] = self._object(message, skip=skip)
        assert self._built_without[name] == skip, f"{name} would need two schemas"
        return {"$ref": f"#/components/schemas/{name}"}

    def _object(self, message: Descriptor, *, skip: tuple[str, ...]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        inline = inline_field(message)
        for field in message.fields:
            if field is inline or not in_body(field, skip):
                continue
            behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
            schema = self.field(field)
            if field.has_presence or field.enum_type is not None:  # null when unset (marshal)
                schema = _nullable(schema)
            if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = {**schema, "readOnly": True}
            if field_behavior_pb2.REQUIRED in behaviors:
                required.append(json_key(field))
            described = self.described(schema, f"{message.full_name}.{field.name}")
            properties[json_key(field)] = described
        # Strict, as the gateway is: an undeclared key is refused, but for user fields at the root
        # (query-only fields are the operation's parameters, not body keys).
        result: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": inline is not None,
        }
        if required:
            result["required"] = required
        return self.described(result, message.full_name)

    def ref_error(self) -> dict[str, Any]:
        return {"$ref": "#/components/schemas/ErrorResponse"}

    def request_body(self, message: Descriptor, skip: tuple[str, ...]) -> dict[str, Any]:
        self._bound = skip
        try:
            return self._object(message, skip=skip)
        finally:
            self._bound = ()

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value)}
        if field.is_repeated:
            return {"type": "array", "items": self._single(field)}
        return self._single(field)

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.enum_type is not None:
            return {"type": "string", "enum": accepted_enum_values(field.enum_type)}
        if field.message_type is not None:
            return self.ref(field.message_type)
        return dict(_SCALARS.get(field.type, {"type": "integer"}))


_BINARY = {"schema": {"type": "string", "format": "binary"}}
# What a stream route's body may be (gateway/uploads.py).
_STREAM_BODY = {
    "application/octet-stream": _BINARY,
    "multipart/form-data": {"schema": {"type": "object", "additionalProperties": True}},
}


def _operation(route: Route, schemas: _Schemas, operation_id: str) -> dict[str, Any]:
    method = route.method
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.path_variables
    ]
    comment = COMMENTS.get(method.full_name, method.name)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": comment.split(". ")[0].split("\n")[0].rstrip("."),
        "description": f"{comment}\n\ngRPC: `{method.full_name}`.",
        "tags": [method.containing_service.name],
        "parameters": [*parameters, *_query_parameters(route, schemas), *_namespace_header(method)],
        "responses": {**_success(route, schemas), "default": _error(schemas)}
        if route.kind is not Kind.SESSION or route.http_method == "PATCH"  # else: in headers
        else {"default": _error(schemas)},
    }
    if route.kind is Kind.READ:
        operation["parameters"] += openapi_read.PARAMETERS
        operation["responses"] = openapi_read.responses(_error(schemas))
    elif route.kind is not Kind.JSON:
        _upload_protocol(operation, route, schemas)
    elif route.body:
        body = schemas.request_body(method.input_type, skip=tuple(route.path_variables))
        content: dict[str, Any] = {"schema": body}
        if method.full_name in EXAMPLES:
            content["examples"] = EXAMPLES[method.full_name]
        operation["requestBody"] = {"content": {"application/json": content}}
    if route.kind is Kind.SESSION:  # the upload URL's secret stands in for a key
        operation["security"] = [{"apiKey": []}, {}]
        for header in operation["parameters"]:
            if header["name"] == "X-Namespace":
                header["required"] = False
                header["description"] += " With a key only: the upload URL's secret needs none."
    return operation


def _discovery(route: Route, schemas: _Schemas, operation_id: str) -> dict[str, Any]:
    """OPTIONS on a stream route: what its upload protocols speak, with no key."""
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [route.method.containing_service.name],
        "description": "No key needed (nor sent: a browser's preflight carries none).",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.path_variables
        ],
        "responses": {"default": _error(schemas)},
        "security": [],
    }
    _upload_protocol(operation, route, schemas)
    return operation


def _error(schemas: _Schemas, description: str = "Error, in the envelope of the reference") -> Any:
    return {
        "description": description,
        "content": {"application/json": {"schema": schemas.ref_error()}},
    }


def _upload_protocol(operation: dict[str, Any], route: Route, schemas: _Schemas) -> None:
    """A stream or session route (or a stream's OPTIONS): its body is bytes, and each upload
    protocol adds its header fields, its answers and what it does; the first, the default one,
    names the operation. A header or answer two protocols share is described once, each
    protocol's words in turn, and is required only when every protocol requires it."""
    if route.kind is Kind.STREAM and route.http_method != "OPTIONS":
        operation["requestBody"] = {"content": dict(_STREAM_BODY)}
    spoken = [(name, docs[route.http_method]) for name, docs in PROTOCOL_DOCS]
    operation["summary"] = spoken[0][1]["summary"]
    described = "\n\n".join(protocol["description"] for _, protocol in spoken)
    operation["description"] = f"{described}\n\n{operation['description']}"
    operation["parameters"] += _shared_parameters(spoken)
    for _, protocol in spoken:
        if "requestBody" in protocol:
            body = operation.setdefault("requestBody", {"content": {}})
            body["content"].update(protocol["requestBody"]["content"])
    answers: dict[str, Any] = {}
    for name, protocol in spoken:
        for status, answer in protocol["responses"].items():
            text = answer if isinstance(answer, str) else answer["description"]
            first = status not in answers
            answers[status] = answer if first else _joined(answers[status], f"{name}: {text}")
    for status, answer in answers.items():
        error = isinstance(answer, str)
        operation["responses"][status] = _error(schemas, answer) if error else answer


def _joined(answer: str | dict[str, Any], more: str) -> str | dict[str, Any]:
    if isinstance(answer, str):
        return f"{answer}; {more}"
    return {**answer, "description": f"{answer['description']}; {more}"}


def _shared_parameters(spoken: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The protocols' header fields, one entry per name."""
    merged: dict[str, dict[str, Any]] = {}
    for name, protocol in spoken:
        for parameter in protocol["parameters"]:
            held = merged.get(parameter["name"])
            if held is None:
                merged[parameter["name"]] = dict(parameter)
                continue
            held["description"] += f"; {name}: {parameter['description']}"
            held["required"] = held["required"] and parameter["required"]
    every = [{p["name"] for p in protocol["parameters"]} for _, protocol in spoken]
    for parameter in merged.values():
        if parameter["required"] and not all(parameter["name"] in names for names in every):
            parameter["required"] = False  # another protocol does without it
    return list(merged.values())


def _query_parameters(route: Route, schemas: _Schemas) -> list[dict[str, Any]]:
    parameters = []
    for name, field in route.query_fields.items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "schema": schemas.field(field)}
        if field_behavior_pb2.REQUIRED in field.GetOptions().Extensions[_BEHAVIOR]:
            parameter["required"] = True
        comment = COMMENTS.get(field.full_name)
        parameters.append({**parameter, "description": comment} if comment else parameter)
    return parameters


# Services whose calls act in a namespace: they need X-Namespace.
_NAMESPACED = {"BucketService", "ObjectService", "UploadService"}


def _namespace_header(method: MethodDescriptor) -> list[dict[str, Any]]:
    if method.containing_service.name not in _NAMESPACED:
        return []
    return [
        {
            "name": "X-Namespace",
            "in": "header",
            "required": True,
            "description": "The namespace to act in: its name or its ns_ id.",
            "schema": {"type": "string", "examples": ["default", "ns_abc123def456"]},
        }
    ]


def _success(route: Route, schemas: _Schemas) -> dict[str, Any]:
    output = route.method.output_type
    if not output.fields:
        return {"204": {"description": "No Content"}}
    if route.response_body:
        body = output.fields_by_name[route.response_body].message_type
        assert body is not None, f"response_body {route.response_body} is not a message"
        output = body
    return {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": schemas.ref(output)}},
        }
    }


def _operation_id(route: Route, taken: set[str]) -> str:
    """Service.Method; a second binding of the same method (PATCH beside PUT, GET beside a
    POST list) gets its HTTP method appended, so that every id is unique."""
    method = route.method
    name = f"{method.containing_service.name}.{method.name}"
    if name in taken:
        name = f"{name}_{route.http_method.lower()}"
    taken.add(name)
    return name


def openapi_document(routes: list[Route]) -> dict[str, Any]:
    """The whole document: one operation per route, components for every message."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    services: dict[str, str] = {}
    for route in routes:
        operation = _operation(route, schemas, _operation_id(route, taken))
        paths.setdefault(route.openapi_path, {})[route.http_method.lower()] = operation
        if route.kind is Kind.STREAM:  # and the upload protocols' discovery beside it
            discovery = dataclasses.replace(route, http_method="OPTIONS")
            operation = _discovery(discovery, schemas, _operation_id(discovery, taken))
            paths[route.openapi_path]["options"] = operation
        service = route.method.containing_service
        services[service.name] = COMMENTS.get(service.full_name, "")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bucketd",
            "version": "v1",
            "description": "Buckets, objects and uploads; compatible with the Mixpeek bucket API. "
            "Every call needs an API key: `Authorization: Bearer sk_…`, but an upload URL's "
            "(its secret stands in for one) and an upload route's OPTIONS.",
        },
        "servers": [{"url": "/", "description": "this bucketd"}],
        "security": [{"apiKey": []}],
        "tags": [{"name": name, "description": text} for name, text in sorted(services.items())],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (sk_live_… or sk_test_…) from `bucketd keys "
                    "create`.",
                }
            },
        },
    }


def served_document() -> dict[str, Any]:
    """The document the gateway serves: every route of the protos."""
    return openapi_document(routes_from())
