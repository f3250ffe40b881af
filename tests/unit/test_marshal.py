"""The gateway's JSON <-> proto marshaller: the reference's spellings, in and out."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from bucketd.codec import (
    InvalidField,
    MarshalError,
    parse_request,
    text_values,
    to_json,
)
from bucketd.gateway.routes import routes_from
from bucketd.v1 import buckets_pb2, common_pb2, objects_pb2, uploads_pb2


def test_enum_values_are_accepted_in_any_case_and_by_proto_name() -> None:
    request = parse_request(
        buckets_pb2.CreateBucketRequest,
        {
            "bucket_name": "b",
            "bucket_schema": {
                "properties": {
                    "a": {"type": "IMAGE"},
                    "b": {"type": "pdf"},
                    "c": {"type": "FIELD_TYPE_TEXT"},
                }
            },
            "unique_key": {"fields": ["b"], "default_policy": "Upsert"},
        },
    )
    properties = request.bucket_schema.properties
    assert properties["a"].type == common_pb2.FIELD_TYPE_IMAGE
    assert properties["b"].type == common_pb2.FIELD_TYPE_PDF
    assert properties["c"].type == common_pb2.FIELD_TYPE_TEXT
    assert request.unique_key.default_policy == buckets_pb2.UNIQUE_KEY_POLICY_UPSERT


def test_unknown_enum_value_names_the_field_and_the_choices() -> None:
    with pytest.raises(MarshalError, match=r"bucket_schema\.properties\.a\.type: 'gif'.*pdf"):
        parse_request(
            buckets_pb2.CreateBucketRequest,
            {"bucket_schema": {"properties": {"a": {"type": "gif"}}}},
        )


def test_null_means_not_set() -> None:
    request = parse_request(
        buckets_pb2.CreateBucketRequest,
        {"bucket_name": "b", "bucket_schema": {}, "description": None},
    )
    assert request.bucket_name == "b"
    assert not request.HasField("description")


def test_missing_required_fields_are_named_together() -> None:
    body = {"bucket_schema": {"properties": {"x": {"required": True}}}}
    with pytest.raises(InvalidField) as refused:
        parse_request(buckets_pb2.CreateBucketRequest, body)
    assert [(p.field, p.kind) for p in refused.value.problems] == [
        ("bucket_schema.properties.x.type", "missing"),
        ("bucket_name", "missing"),
    ]


def test_undeclared_keys_are_refused_naming_them_and_the_accepted_ones() -> None:
    body = {
        "bucket_nmae": "b",
        "bucket_schema": {"properties": {"x": {"type": "string", "format": "email"}}},
    }
    with pytest.raises(InvalidField) as refused:
        parse_request(buckets_pb2.CreateBucketRequest, body)
    assert [(p.field, p.kind) for p in refused.value.problems] == [
        ("bucket_nmae", "extra_forbidden"),
        ("bucket_schema.properties.x.format", "extra_forbidden"),
        ("bucket_name", "missing"),
    ]
    top, nested, _ = refused.value.problems
    assert "accepted: bucket_name, description, bucket_schema" in top.message
    assert "accepted: type, required, description" in nested.message
    with pytest.raises(InvalidField, match=r"blobs\[0\]\.typ: 'typ' is not a field here") as bad:
        parse_request(
            objects_pb2.UpdateObjectRequest,
            {"key_prefix": "/a", "blobs": [{"property": "x", "typ": "image"}]},
            bound=("bucket_identifier", "object_identifier"),
        )
    assert "accepted: property, type, key_prefix, data, upload_id" in str(bad.value)


def test_object_bodies_keep_undeclared_root_keys_as_user_fields() -> None:
    body = {"bucket_identifier": "b", "object_identifier": "o", "blob": 1, "season": "spring"}
    request = parse_request(objects_pb2.PatchObjectRequest, body)
    assert dict(request.user_fields) == {"blob": 1.0, "season": "spring"}


def test_nulls_inside_free_form_values_are_kept() -> None:
    request = parse_request(
        objects_pb2.CreateObjectRequest,
        {"bucket_identifier": "b", "metadata": {"campaign": None, "n": 2}},
    )
    assert request.metadata.fields["campaign"].WhichOneof("kind") == "null_value"
    assert request.metadata["n"] == 2


def test_json_name_is_accepted_on_input() -> None:
    body = {"bucket_identifier": "b", "upload_id": "upl_1", "async": True}
    request = parse_request(uploads_pb2.ConfirmUploadRequest, body)
    assert request.run_async is True


def test_wrong_scalar_type_is_a_marshal_error() -> None:
    with pytest.raises(MarshalError, match="limit"):
        parse_request(buckets_pb2.ListBucketsRequest, {"limit": "ten"})


def test_output_uses_reference_spellings_and_json_numbers() -> None:
    bucket = buckets_pb2.Bucket(
        bucket_id="bkt_1",
        bucket_name="b",
        object_count=3,
        total_size_bytes=2**40,
        status=common_pb2.TASK_STATUS_ACTIVE,
        created_at=timestamp_pb2.Timestamp(seconds=1_700_000_000),
    )
    bucket.bucket_schema.properties["image"].type = common_pb2.FIELD_TYPE_IMAGE
    data = to_json(bucket)
    assert data["status"] == "ACTIVE"
    assert data["object_count"] == 3
    assert data["total_size_bytes"] == 2**40
    assert data["bucket_schema"]["properties"]["image"]["type"] == "image"
    assert data["created_at"] == "2023-11-14T22:13:20Z"


def test_unset_enum_is_null_on_output() -> None:
    assert to_json(objects_pb2.Blob(property="p"))["type"] is None


def _route(method: str, template: str):  # type: ignore[no-untyped-def]
    return next(r for r in routes_from() if (r.http_method, r.template) == (method, template))


def test_query_parameters_are_typed_and_a_body_value_wins() -> None:
    route = _route("POST", "/v1/buckets/{bucket_identifier}/objects/list")
    query = {"limit": ["25"], "include_total": ["true"], "after": ["c"]}
    fixed = text_values(route.query_fields, query, source="query")
    request = parse_request(
        objects_pb2.ListObjectsRequest,
        {"search": "x"},
        bound=("bucket_identifier",),
        from_body=True,
        fixed={**fixed, "bucket_identifier": "b", "search": "y"},
    )
    assert request.limit == 25 and request.include_total is True and request.after == "c"
    assert request.search == "x"


def test_query_only_fields_are_not_body_keys_and_undeclared_query_names_are_refused() -> None:
    route = _route("POST", "/v1/buckets/{bucket_identifier}/objects/list")
    assert set(route.query_fields) == {
        "limit",
        "offset",
        "cursor",
        "include_total",
        "page_size",
        "page",
        "next_cursor",
        "after",
    }
    with pytest.raises(InvalidField) as refused:
        parse_request(
            objects_pb2.ListObjectsRequest,
            {"limit": 5, "bucket_identifier": "b"},
            bound=("bucket_identifier",),
            from_body=True,
        )
    assert [(p.field, p.kind) for p in refused.value.problems] == [
        ("limit", "extra_forbidden"),
        ("bucket_identifier", "extra_forbidden"),
    ]
    with pytest.raises(InvalidField) as unknown:
        text_values(route.query_fields, {"limt": ["5"]}, source="query")
    (problem,) = unknown.value.problems
    assert (problem.field, problem.kind, problem.source) == ("limt", "extra_forbidden", "query")
    assert "accepted: limit, offset" in problem.message


def test_a_route_without_body_takes_its_scalar_fields_from_the_query() -> None:
    route = _route("GET", "/v1/buckets/{bucket_identifier}/objects")
    assert "search" not in route.query_fields  # declared body-only: not a GET parameter
    assert "limit" in route.query_fields
    listed = _route("GET", "/v1/buckets")
    assert "search" in listed.query_fields and "case_sensitive" not in listed.query_fields


def test_bad_query_boolean_names_the_parameter() -> None:
    route = _route("POST", "/v1/buckets/{bucket_identifier}/objects/list")
    with pytest.raises(MarshalError, match="include_total") as refused:
        text_values(route.query_fields, {"include_total": ["maybe"]}, source="query")
    assert refused.value.problems[0].source == "query"
