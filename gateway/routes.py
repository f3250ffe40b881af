"""HTTP routes derived from the `google.api.http` annotations of the protos (no hand-written route).

Like grpc-gateway or Envoy's transcoder: each HttpRule (and its additional_bindings) becomes one
Route with its method, path template, body and response_body selectors, and its Kind: JSON for a
unary call, STREAM for a client-streaming one (grpc-gateway's rule: the body is the stream),
SESSION for a binding on an upload session's resource (its path binds `session_id`), which an
upload protocol adapter serves in headers (gateway/uploads.py), and READ for a server-streaming
one (ReadObject: the answer is the bytes, gateway/content.py).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote

from google.api import annotations_pb2, http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    FileDescriptor,
    MethodDescriptor,
)
from google.protobuf.message import Message

from bucketd.codec import http_location, json_key
from bucketd.v1 import buckets_pb2, common_pb2, namespaces_pb2, objects_pb2, tasks_pb2, uploads_pb2

API_FILES: tuple[FileDescriptor, ...] = (
    namespaces_pb2.DESCRIPTOR,
    buckets_pb2.DESCRIPTOR,
    objects_pb2.DESCRIPTOR,
    uploads_pb2.DESCRIPTOR,
    tasks_pb2.DESCRIPTOR,
)

_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")
# The path variable of an upload session's resource (its URL is the session's capability).
SESSION_VARIABLE = "session_id"
# Between the session's id and its upload URL's secret in that variable: `ses_….<secret>`.
SECRET_SEPARATOR = "."
_QUERY = (common_pb2.HTTP_LOCATION_QUERY, common_pb2.HTTP_LOCATION_BODY_OR_QUERY)


class Kind(enum.Enum):
    """How a route's HTTP request becomes its call: one handler per kind (gateway/app.py)."""

    JSON = "json"  # a unary call: JSON body, path and query in; JSON out
    STREAM = "stream"  # a client stream: the body is the stream (a raw file, multipart)
    SESSION = "session"  # an upload session's resource: an upload protocol's headers
    READ = "read"  # a server stream: the answer is the bytes (GET, HEAD; Range, ETag)


def query_name(field: FieldDescriptor) -> str:
    """The field's query parameter name: its `(bucketd.v1.http_query_name)`, else its JSON key."""
    return str(field.GetOptions().Extensions[common_pb2.http_query_name]) or json_key(field)


@dataclass(frozen=True)
class Route:
    """One HTTP binding of one RPC."""

    http_method: str
    template: str
    method: MethodDescriptor
    body: str
    response_body: str

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, e.g. /bucketd.v1.BucketService/GetBucket."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def request_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def kind(self) -> Kind:
        if SESSION_VARIABLE in self.path_variables:
            return Kind.SESSION
        if self.method.server_streaming:
            return Kind.READ
        return Kind.STREAM if self.method.client_streaming else Kind.JSON

    @property
    def fields(self) -> Descriptor:
        """The message whose fields the path and query set: the request, or for a client stream
        its first message, the header (UploadObjectRequest.header)."""
        if not self.method.client_streaming:
            return self.method.input_type
        header = self.method.input_type.fields[0].message_type
        assert header is not None, f"{self.method.full_name}: a stream starts with a header"
        return header

    @property
    def path_variables(self) -> list[str]:
        """Field paths bound by the template, e.g. ["bucket_identifier"]."""
        return [match.group(1) for match in _VARIABLE.finditer(self.template)]

    @cached_property
    def path_fields(self) -> dict[str, FieldDescriptor]:
        """The fields the path template binds, by variable name."""
        fields = self.fields.fields_by_name
        return {name: fields[name] for name in self.path_variables}

    @cached_property
    def query_fields(self) -> dict[str, FieldDescriptor]:
        """The query parameters the route accepts, by name: fields marked as travelling in the
        query, and on a route without a body its other scalar fields (grpc-gateway's rule); a
        stream's header and the blobs it announces take theirs from the query; a session's
        resource takes none (the session holds its header)."""
        if self.kind in (Kind.SESSION, Kind.READ):  # a read's range travels in Range
            return {}
        if self.kind is Kind.STREAM:
            held = [f.message_type for f in self.fields.fields if f.message_type is not None]
            fields = [*self.fields.fields, *(f for m in held for f in m.fields)]
            return {query_name(f): f for f in fields if http_location(f) in _QUERY}
        accepted: dict[str, FieldDescriptor] = {}
        for field in self.method.input_type.fields:
            where = http_location(field)
            if field.name in self.path_variables or where == common_pb2.HTTP_LOCATION_BODY:
                continue
            if where in _QUERY or (field.message_type is None and not self.body):
                accepted[query_name(field)] = field
        return accepted

    def url(self, **values: str) -> str:
        """The template with its variables filled (each value escaped): a Location."""
        return _VARIABLE.sub(lambda match: quote(values[match.group(1)], safe=""), self.template)

    @property
    def aiohttp_path(self) -> str:
        """The template in aiohttp's syntax: {var} stays, {var=**} matches across slashes."""

        def convert(match: re.Match[str]) -> str:
            name, pattern = match.group(1), match.group(2)
            if pattern and "**" in pattern:
                return "{" + name + ":.+}"
            return "{" + name + "}"

        return _VARIABLE.sub(convert, self.template)

    @property
    def openapi_path(self) -> str:
        """The template with its variables' patterns removed: {name=**} -> {name}."""
        return _VARIABLE.sub(lambda match: "{" + match.group(1) + "}", self.template)

    @property
    def specificity(self) -> tuple[int, int]:
        """Sort key: literal paths before templated ones, so /buckets/list beats /buckets/{id}."""
        return (len(self.path_variables), -len(self.template))


def _bindings(rule: http_pb2.HttpRule) -> Iterator[http_pb2.HttpRule]:
    yield rule
    for binding in rule.additional_bindings:
        yield from _bindings(binding)


def _method_and_path(rule: http_pb2.HttpRule) -> tuple[str, str]:
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        raise ValueError("HttpRule without a pattern")
    if pattern == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return pattern.upper(), str(getattr(rule, pattern))


def routes_from(files: Iterable[FileDescriptor] = API_FILES) -> list[Route]:
    """Every HTTP binding of every RPC in `files`, most specific first."""
    routes: list[Route] = []
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                options = method.GetOptions()
                if not options.HasExtension(annotations_pb2.http):
                    continue
                for rule in _bindings(options.Extensions[annotations_pb2.http]):
                    http_method, template = _method_and_path(rule)
                    routes.append(
                        Route(
                            http_method=http_method,
                            template=template,
                            method=method,
                            body=rule.body,
                            response_body=rule.response_body,
                        )
                    )
    return sorted(routes, key=lambda route: route.specificity)


def route_of(full_name: str, routes: Iterable[Route] | None = None) -> Route:
    """The (first) route of the method `full_name`, e.g. bucketd.v1.ObjectService.GetObject."""
    return next(r for r in routes or routes_from() if r.method.full_name == full_name)
