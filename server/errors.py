"""The one domain error hierarchy. Each class names its reason, a value of the contract's
`ErrorReason` enum, whose options give its gRPC status, HTTP status and error type
(bucketd/error_reasons.py reads them; server/api/status.py turns an error into its status).

Services and domain code raise these; servicers never pick a status themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from bucketd.error_reasons import ErrorReason


@dataclass(frozen=True)
class Violation:
    """One field that fails validation (google.rpc.BadRequest.FieldViolation): `field` is a
    path like `objects[2].blobs[0].data`, `kind` a Pydantic-style type (missing, extra_forbidden,
    value_error) for the REST envelope's validation_errors."""

    field: str
    message: str
    kind: str = "value_error"

    def under(self, where: str) -> Violation:
        return Violation(f"{where}.{self.field}", self.message, self.kind)


class BucketdError(Exception):
    """Base of every error a caller is meant to see; `message` says what to fix."""

    #: Why the call failed: its status, and the stable google.rpc.ErrorInfo.reason.
    reason: ClassVar[ErrorReason.ValueType] = ErrorReason.ERROR_REASON_BUCKETD_ERROR

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, str] | None = None,
        violations: Sequence[Violation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, str] = dict(details or {})
        self._violations = tuple(violations)

    @property
    def public_message(self) -> str:
        """What the caller is told (the log keeps `message`)."""
        return self.message

    @property
    def violations(self) -> tuple[Violation, ...]:
        """The fields at fault: those given, else the one `details["field"]` names."""
        if self._violations or "field" not in self.details:
            return self._violations
        return (Violation(self.details["field"], self.message),)

    def at(self, where: str) -> Self:
        """The same error about an item of a batch: `uploads[3]: <message>`."""
        located = type(self)(
            f"{where}: {self.message}",
            details=self.details,
            violations=[violation.under(where) for violation in self.violations],
        )
        located.__cause__ = self
        return located


class InvalidArgument(BucketdError):
    """The request is malformed or breaks a rule; retrying it unchanged cannot succeed."""

    reason = ErrorReason.ERROR_REASON_INVALID_ARGUMENT


class NamespaceRequired(InvalidArgument):
    """A namespaced call came without X-Namespace: a malformed request, 400 over REST (the
    header is not a body field, so not a 422)."""

    reason = ErrorReason.ERROR_REASON_NAMESPACE_REQUIRED


class OutOfRange(BucketdError):
    """A position (a write offset) is not where it must be."""

    reason = ErrorReason.ERROR_REASON_OUT_OF_RANGE


class OffsetMismatch(OutOfRange):
    """Bytes sent for an offset other than where the blob stands (details: persisted_offset):
    over HTTP, the draft's 409 with the right Upload-Offset."""

    reason = ErrorReason.ERROR_REASON_MISMATCHING_UPLOAD_OFFSET


class RangeNotSatisfiable(OutOfRange):
    """A read starts at or past the end of the blob."""

    reason = ErrorReason.ERROR_REASON_RANGE_NOT_SATISFIABLE


class PayloadTooLarge(BucketdError):
    """A size limit was exceeded (request, blob, base64 payload)."""

    reason = ErrorReason.ERROR_REASON_PAYLOAD_TOO_LARGE


class Unauthenticated(BucketdError):
    """No valid API key came with the call."""

    reason = ErrorReason.ERROR_REASON_UNAUTHENTICATED


class PermissionDenied(BucketdError):
    """The key is valid but may not do this."""

    reason = ErrorReason.ERROR_REASON_PERMISSION_DENIED


class NotFound(BucketdError):
    """The resource does not exist in the caller's scope (or the caller may not know it does)."""

    reason = ErrorReason.ERROR_REASON_NOT_FOUND


class AlreadyExists(BucketdError):
    """A resource with the same unique name or key exists."""

    reason = ErrorReason.ERROR_REASON_ALREADY_EXISTS


class FailedPrecondition(BucketdError):
    """The resource is not in a state that allows this operation."""

    reason = ErrorReason.ERROR_REASON_FAILED_PRECONDITION


class QueryTooExpensive(FailedPrecondition):
    """A list, stats or aggregation query ran past its time limit, or its answer past its size
    limit; the message names the limit and what to narrow."""

    reason = ErrorReason.ERROR_REASON_QUERY_TOO_EXPENSIVE


class Aborted(BucketdError):
    """Another operation holds the resource right now (an append to the same upload session):
    retrying shortly can succeed."""

    reason = ErrorReason.ERROR_REASON_ABORTED


class SourceTooSlow(BucketdError):
    """A URL source did not deliver its bytes within the fetch's deadline."""

    reason = ErrorReason.ERROR_REASON_SOURCE_TOO_SLOW


class StorageUnavailable(BucketdError):
    """MongoDB or S3 could not be reached; the call may succeed if retried."""

    reason = ErrorReason.ERROR_REASON_STORAGE_UNAVAILABLE


class _StoreUnavailable(StorageUnavailable):
    """A store's own failure: its message (addresses, keys, the driver's words) is for the
    log; the caller learns which store failed and that a retry may work."""

    store = "storage"

    @property
    def public_message(self) -> str:
        return f"{self.store} is unavailable right now: retry shortly"


class MongoUnavailable(_StoreUnavailable):
    store = "MongoDB"


class S3Unavailable(_StoreUnavailable):
    store = "S3"


class _RetryLater(BucketdError):
    """A refusal that a later retry may not meet: `retry_after_seconds` travels as a
    google.rpc.RetryInfo detail (HTTP: Retry-After)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float = 1.0,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds


class UploadsBusy(_RetryLater):
    """The process holds all the uploads its memory budget allows, or the organization its
    fair share of them: refused at once rather than queued."""

    reason = ErrorReason.ERROR_REASON_UPLOADS_BUSY


class RateLimited(_RetryLater):
    """The API key sent more requests than BUCKETD_RATE_LIMIT_PER_SECOND allows."""

    reason = ErrorReason.ERROR_REASON_RATE_LIMITED
