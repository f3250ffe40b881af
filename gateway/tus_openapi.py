"""What tus 1.0.0 (gateway/tus.py) adds to the upload routes' OpenAPI operations, by HTTP method:
its header fields, its answers and what it does. gateway/openapi.py merges it with the IETF
draft's (gateway/ietf_draft.py) on the same routes, as the gateway serves both there."""

from __future__ import annotations

from typing import Any

from bucketd.gateway.tus import CHECKSUM_MISMATCH, CHECKSUMS, EXTENSIONS, OFFSET_STREAM, VERSION


def _header(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


NAME = "tus 1.0"
_RESUMABLE = _header(
    "Tus-Resumable",
    f"{VERSION}: the request speaks tus (another version is a 412); every answer repeats it",
)
_LENGTH = _header("Upload-Length", "The whole file's size in bytes, at most Tus-Max-Size")
_CHECKSUM = _header(
    "Upload-Checksum",
    f"`<algorithm> <base64 digest>` of this request's body ({', '.join(CHECKSUMS)}): a "
    f"mismatch is a {CHECKSUM_MISMATCH} and nothing is appended",
)
_STATE = "Upload-Offset, Upload-Length (or Upload-Defer-Length) and Upload-Expires"
_BINARY = {"schema": {"type": "string", "format": "binary"}}

OPENAPI: dict[str, dict[str, Any]] = {
    "OPTIONS": {
        "summary": "What the upload route speaks",
        "parameters": [],
        "responses": {
            "204": {
                "description": f"{NAME}: Tus-Version, Tus-Extension, Tus-Max-Size, "
                "Tus-Checksum-Algorithm"
            }
        },
        "description": f"{NAME} discovery: Tus-Version {VERSION}, Tus-Extension {EXTENSIONS}.",
    },
    "POST": {
        "summary": "Create a tus 1.0 upload",
        "parameters": [
            _RESUMABLE,
            _LENGTH,
            _header("Upload-Defer-Length", "1: the length is given by a later PATCH"),
            _header(
                "Upload-Metadata",
                "Comma-separated `key base64(value)` pairs: filename and filetype are the "
                "blob's filename and MIME type, key_prefix the object's key prefix",
            ),
            _CHECKSUM,
        ],
        "requestBody": {"content": {OFFSET_STREAM: _BINARY}},
        "responses": {
            "201": {
                "description": f"{NAME}: the upload URL is in Location (a capability: HEAD, "
                f"PATCH and DELETE on it need no key); {_STATE}"
            },
            "412": "Tus-Resumable is not 1.0.0",
            "413": "Upload-Length exceeds Tus-Max-Size",
        },
        "description": f"With Tus-Resumable: {VERSION} the request creates a tus upload on the "
        "same upload session; a body (creation-with-upload) is its first bytes.",
    },
    "HEAD": {
        "summary": "Offset of a tus 1.0 upload",
        "parameters": [_RESUMABLE],
        "responses": {"200": {"description": f"{NAME}: {_STATE}"}},
        "description": f"{NAME}: Upload-Offset is where the next PATCH starts.",
    },
    "PATCH": {
        "summary": "Append to a tus 1.0 upload; reaching Upload-Length finishes the object",
        "parameters": [
            _RESUMABLE,
            _header("Upload-Offset", "The offset HEAD answered", required=True),
            _LENGTH,
            _CHECKSUM,
        ],
        "requestBody": {"content": {OFFSET_STREAM: _BINARY}},
        "responses": {
            "204": {"description": f"{NAME}: the new Upload-Offset (and Upload-Expires)"},
            "409": "Upload-Offset is not the upload's offset, or the upload is complete",
            "412": "Tus-Resumable is not 1.0.0",
            "413": "The body would pass Upload-Length",
            "415": f"Content-Type is not {OFFSET_STREAM}",
            str(CHECKSUM_MISMATCH): "Upload-Checksum differs from the body's: nothing appended",
        },
        "description": f"{NAME}: appends from Upload-Offset; the append that reaches "
        "Upload-Length (announced or sent with it) finishes the object, chunked bodies too.",
    },
    "DELETE": {
        "summary": "Cancel a tus 1.0 upload (termination)",
        "parameters": [_RESUMABLE],
        "responses": {"204": {"description": f"{NAME}: cancelled"}},
        "description": f"{NAME} termination: the same cancellation.",
    },
}
