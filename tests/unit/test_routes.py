"""Routes come from the google.api.http annotations and cover the reference's endpoints."""

from __future__ import annotations

from bucketd.gateway.routes import routes_from

# Sections 0.1 and 2-5 of ../shared/reference/mixpeek-api.md.
REFERENCE_ENDPOINTS = {
    ("GET", "/v1/namespaces"),
    ("GET", "/v1/buckets"),
    ("GET", "/v1/buckets/{bucket_identifier}/objects"),
    ("GET", "/v1/tasks/{task_id}"),
    ("DELETE", "/v1/tasks/{task_id}"),
    ("POST", "/v1/tasks/list"),
    ("POST", "/v1/buckets/{bucket_identifier}/objects/aggregate"),
    ("POST", "/v1/buckets/{bucket_identifier}/objects/bulk-soft-delete"),
    ("GET", "/v1/namespaces/{namespace_identifier}/stats"),
    ("POST", "/v1/namespaces/stats/batch"),
    ("POST", "/v1/namespaces/{namespace_identifier}/ensure-indexes"),
    ("POST", "/v1/namespaces"),
    ("GET", "/v1/namespaces/{namespace_identifier}"),
    ("PUT", "/v1/namespaces/{namespace_identifier}"),
    ("PATCH", "/v1/namespaces/{namespace_identifier}"),
    ("DELETE", "/v1/namespaces/{namespace_identifier}"),
    ("POST", "/v1/namespaces/list"),
    ("POST", "/v1/buckets"),
    ("GET", "/v1/buckets/{bucket_identifier}"),
    ("PUT", "/v1/buckets/{bucket_identifier}"),
    ("PATCH", "/v1/buckets/{bucket_identifier}"),
    ("DELETE", "/v1/buckets/{bucket_identifier}"),
    ("POST", "/v1/buckets/list"),
    ("POST", "/v1/buckets/{bucket_identifier}/objects"),
    ("POST", "/v1/buckets/{bucket_identifier}/objects/batch"),
    ("GET", "/v1/buckets/{bucket_identifier}/objects/{object_identifier}"),
    ("PUT", "/v1/buckets/{bucket_identifier}/objects/{object_identifier}"),
    ("PATCH", "/v1/buckets/{bucket_identifier}/objects/{object_identifier}"),
    ("DELETE", "/v1/buckets/{bucket_identifier}/objects/{object_identifier}"),
    ("POST", "/v1/buckets/{bucket_identifier}/objects/list"),
    ("POST", "/v1/buckets/{bucket_identifier}/uploads"),
    ("POST", "/v1/buckets/{bucket_identifier}/uploads/batch"),
    ("GET", "/v1/buckets/{bucket_identifier}/uploads/{upload_id}"),
    ("POST", "/v1/buckets/{bucket_identifier}/uploads/list"),
    ("DELETE", "/v1/buckets/{bucket_identifier}/uploads/{upload_id}"),
    ("POST", "/v1/buckets/{bucket_identifier}/uploads/{upload_id}/confirm"),
    ("POST", "/v1/buckets/{bucket_identifier}/uploads/confirm/batch"),
}


def test_every_reference_endpoint_has_exactly_one_route() -> None:
    bound = [(route.http_method, route.template) for route in routes_from()]
    assert sorted(bound) == sorted(REFERENCE_ENDPOINTS)


def test_literal_paths_sort_before_templated_ones() -> None:
    paths = [route.template for route in routes_from()]
    assert paths.index("/v1/buckets/list") < paths.index("/v1/buckets/{bucket_identifier}")


def test_route_knows_its_rpc_and_messages() -> None:
    route = next(
        r
        for r in routes_from()
        if r.template == "/v1/buckets/{bucket_identifier}" and r.http_method == "GET"
    )
    assert route.rpc_path == "/bucketd.v1.BucketService/GetBucket"
    assert route.request_class.DESCRIPTOR.name == "GetBucketRequest"
    assert route.response_body == "bucket"
    assert route.path_variables == ["bucket_identifier"]


def test_catch_all_variables_match_across_slashes() -> None:
    route = routes_from()[0]
    converted = type(route)(
        http_method="GET",
        template="/v1/files/{name=**}",
        method=route.method,
        body="",
        response_body="",
    )
    assert converted.aiohttp_path == "/v1/files/{name:.+}"
    assert converted.openapi_path == "/v1/files/{name}"
