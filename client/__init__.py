"""bucketd's Python client: the gRPC API with plain Python values, retries, and uploads that
resume by themselves. `AsyncClient` is the client; `Client` runs it for synchronous code."""

from bucketd.client.async_client import AsyncClient, Progress
from bucketd.client.errors import (
    Aborted,
    AlreadyExists,
    ApiError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from bucketd.client.settings import ClientSettings
from bucketd.client.sync import Client

__all__ = [
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "AsyncClient",
    "Client",
    "ClientSettings",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "Progress",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]
