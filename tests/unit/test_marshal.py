"""The gateway's JSON <-> proto marshaller: the reference's spellings, in and out."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from bucketd.gateway.marshal import (
    InvalidField,
    MarshalError,
    parse_request,
    set_text_field,
    to_json,
)
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


def test_text_fields_from_path_and_query_are_typed() -> None:
    data: dict[str, object] = {"bucket_identifier": "b"}
    descriptor = objects_pb2.ListObjectsRequest.DESCRIPTOR
    set_text_field(descriptor, data, "limit", ["25"])
    set_text_field(descriptor, data, "include_total", ["true"])
    set_text_field(descriptor, data, "select", ["a", "b"])
    set_text_field(descriptor, data, "sort.direction", ["DESC"])
    set_text_field(descriptor, data, "not_a_field", ["x"])
    request = parse_request(objects_pb2.ListObjectsRequest, data)
    assert request.limit == 25
    assert request.include_total is True
    assert list(request.select) == ["a", "b"]
    assert request.sort.direction == common_pb2.SORT_DIRECTION_DESC


def test_query_value_does_not_override_the_body() -> None:
    data: dict[str, object] = {"limit": 5}
    set_text_field(objects_pb2.ListObjectsRequest.DESCRIPTOR, data, "limit", ["9"])
    assert data["limit"] == 5


def test_bad_query_boolean_names_the_parameter() -> None:
    with pytest.raises(MarshalError, match="include_total"):
        set_text_field(objects_pb2.ListObjectsRequest.DESCRIPTOR, {}, "include_total", ["maybe"])
