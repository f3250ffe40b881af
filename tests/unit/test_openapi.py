"""The OpenAPI document is generated from the descriptors, like the routes."""

from __future__ import annotations

from bucketd.gateway.openapi import openapi_document
from bucketd.gateway.routes import routes_from


def test_operations_reference_schemas_and_the_error_envelope() -> None:
    document = openapi_document(routes_from())
    assert document["openapi"] == "3.1.0"
    create = document["paths"]["/v1/buckets"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["bucket_name", "bucket_schema"]
    ok = create["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Bucket"}
    error = create["responses"]["default"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorResponse"}


def test_enums_use_the_reference_spelling() -> None:
    schemas = openapi_document(routes_from())["components"]["schemas"]
    status = schemas["Bucket"]["properties"]["status"]
    assert "ACTIVE" in status["enum"]
    assert schemas["Bucket"]["properties"]["object_count"] == {"type": "integer", "readOnly": True}
    field_type = schemas["BucketSchemaField"]["properties"]["type"]
    assert field_type["enum"][:2] == ["string", "number"]


def test_path_parameters_are_not_in_the_body_and_deletes_are_204() -> None:
    paths = openapi_document(routes_from())["paths"]
    create_object = paths["/v1/buckets/{bucket_identifier}/objects"]["post"]
    body = create_object["requestBody"]["content"]["application/json"]["schema"]
    assert "bucket_identifier" not in body["properties"]
    names = [p["name"] for p in create_object["parameters"] if p["in"] == "path"]
    assert names == ["bucket_identifier"]
    delete = paths["/v1/buckets/{bucket_identifier}/objects/{object_identifier}"]["delete"]
    assert "204" in delete["responses"]
