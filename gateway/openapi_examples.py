"""Request examples of the OpenAPI document, by RPC: the public docs' own, and bucketd's forms."""

from __future__ import annotations

from typing import Any

_IMAGE_URL = "https://cdn.example.com/red.jpg"

EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "bucketd.v1.BucketService.CreateBucket": {
        "reference": {
            "summary": "The public docs' example",
            "value": {
                "bucket_name": "product_images",
                "description": "Product images",
                "bucket_schema": {
                    "properties": {
                        "image": {"type": "image", "description": "Product image"},
                        "title": {"type": "string", "required": True},
                    }
                },
                "unique_key": {"fields": ["title"], "default_policy": "upsert"},
            },
        }
    },
    "bucketd.v1.ObjectService.CreateObject": {
        "reference": {
            "summary": "The public docs' example: user fields at the root, a URL and an upload",
            "value": {
                "key_prefix": "/catalog",
                "title": "Red sneaker",
                "blobs": [
                    {"property": "image", "type": "image", "data": _IMAGE_URL},
                    {"property": "video", "type": "video", "upload_id": "upl_abc123"},
                ],
            },
        },
        "json_for_a_file_property": {
            "summary": "A JSON value for a file-typed property, with blob metadata",
            "value": {
                "metadata": {"author": "ada"},
                "blobs": [
                    {
                        "property": "pdf",
                        "type": "PDF",
                        "key_prefix": "/content.pdf",
                        "data": {"num_pages": 5, "title": "Quarterly report"},
                        "metadata": {"pages_checked": True},
                    }
                ],
            },
        },
        "inline_and_text": {
            "summary": "Inline bytes (a data URI), text, and a checksum",
            "value": {
                "blobs": [
                    {
                        "property": "image",
                        "type": "image",
                        "data": "data:image/png;base64,iVBORw0KGgo=",
                        "checksum": "sha256:" + "0" * 64,
                    },
                    {"property": "notes", "type": "text", "data": "The report is due Friday."},
                ]
            },
        },
    },
    "bucketd.v1.UploadService.CreateUpload": {
        "reference": {
            "summary": "The public docs' example",
            "value": {
                "filename": "product_demo.mp4",
                "content_type": "video/mp4",
                "file_size_bytes": 52428800,
                "blob_property": "video",
                "object_metadata": {"category": "tutorials"},
            },
        }
    },
}
