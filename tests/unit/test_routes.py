"""Routes come from the google.api.http annotations and cover the reference's endpoints."""

from __future__ import annotations

from bucketd.gateway.routes import Kind, routes_from

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

# bucketd's own: the streaming upload and its resumable upload resource.
UPLOAD_ENDPOINTS = {
    ("POST", "/v1/buckets/{bucket_identifier}/objects/upload"),
    *(
        (method, "/v1/buckets/{bucket_identifier}/objects/upload/{session_id}")
        for method in ("HEAD", "PATCH", "DELETE")
    ),
}
READ_ENDPOINTS = {
    (method, "/v1/buckets/{bucket_identifier}/objects/{object_identifier}/blobs/{blob}/content")
    for method in ("GET", "HEAD")
}


def test_every_endpoint_has_exactly_one_route() -> None:
    bound = [(route.http_method, route.template) for route in routes_from()]
    assert sorted(bound) == sorted(REFERENCE_ENDPOINTS | UPLOAD_ENDPOINTS | READ_ENDPOINTS)


def test_each_route_knows_its_kind_and_its_query_from_the_protos() -> None:
    kinds = {(route.http_method, route.template): route.kind for route in routes_from()}
    assert kinds[("POST", "/v1/buckets/{bucket_identifier}/objects/upload")] is Kind.STREAM
    resource = "/v1/buckets/{bucket_identifier}/objects/upload/{session_id}"
    assert {kinds[(method, resource)] for method in ("HEAD", "PATCH", "DELETE")} == {Kind.SESSION}
    assert kinds[("GET", "/v1/buckets/{bucket_identifier}")] is Kind.JSON
    assert {kinds[endpoint] for endpoint in READ_ENDPOINTS} == {Kind.READ}
    read = next(route for route in routes_from() if route.kind is Kind.READ)
    assert read.query_fields == {}  # the Range header says which bytes
    upload = next(route for route in routes_from() if route.kind is Kind.STREAM)
    assert set(upload.query_fields) == {"property", "type", "filename", "sha256", "key_prefix"}
    assert upload.query_fields["sha256"].name == "expected_sha256"
    assert upload.fields.name == "UploadObjectHeader"
    assert (
        upload.path_fields["bucket_identifier"] is upload.fields.fields_by_name["bucket_identifier"]
    )


def test_a_location_is_built_from_the_template() -> None:
    route = next(route for route in routes_from() if route.http_method == "HEAD")
    assert route.url(bucket_identifier="my things", session_id="ses_1") == (
        "/v1/buckets/my%20things/objects/upload/ses_1"
    )


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
