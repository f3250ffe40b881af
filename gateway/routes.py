"""HTTP routes derived from the `google.api.http` annotations of the protos (no hand-written route).

Like grpc-gateway or Envoy's transcoder: each HttpRule (and its additional_bindings) becomes one
Route with its method, path template, body and response_body selectors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from google.api import annotations_pb2, http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor, FileDescriptor, MethodDescriptor
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


@dataclass(frozen=True)
class Route:
    """One HTTP binding of one unary RPC."""

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
    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)

    @property
    def path_variables(self) -> list[str]:
        """Field paths bound by the template, e.g. ["bucket_identifier"]."""
        return [match.group(1) for match in _VARIABLE.finditer(self.template)]

    @cached_property
    def path_fields(self) -> dict[str, FieldDescriptor]:
        """The fields the path template binds, by variable name."""
        fields = self.method.input_type.fields_by_name
        return {name: fields[name] for name in self.path_variables}

    @cached_property
    def query_fields(self) -> dict[str, FieldDescriptor]:
        """The query parameters the route accepts, by name: fields marked as travelling in the
        query, and on a route without a body its other scalar fields (grpc-gateway's rule)."""
        accepted: dict[str, FieldDescriptor] = {}
        for field in self.method.input_type.fields:
            where = http_location(field)
            if field.name in self.path_variables or where == common_pb2.HTTP_LOCATION_BODY:
                continue
            scalar = field.message_type is None
            in_query = where in (
                common_pb2.HTTP_LOCATION_QUERY,
                common_pb2.HTTP_LOCATION_BODY_OR_QUERY,
            )
            if in_query or (scalar and not self.body):
                accepted[json_key(field)] = field
        return accepted

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
    """Every HTTP binding of every unary RPC in `files`, most specific first."""
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
