"""The error vocabulary of the contract: each `bucketd.v1.ErrorReason` value with the gRPC status,
HTTP status and envelope error type its options give (`(bucketd.v1.grpc_code)`,
`(bucketd.v1.http_status)`, `(bucketd.v1.error_type)`).

Read once from the descriptors of bucketd.v1, like `spellings.py`: the server (domain error ->
status and ErrorInfo), the gateway (ErrorInfo -> HTTP and envelope) and the client (exceptions)
all look reasons up here, and none spells one again.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from bucketd.v1 import common_pb2

ErrorReason = common_pb2.ErrorReason
PREFIX = "ERROR_REASON_"
# The domain of bucketd's google.rpc.ErrorInfo details.
DOMAIN = "bucketd"

_GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}


@dataclass(frozen=True)
class Reason:
    """One reason: `name` is how ErrorInfo.reason spells it on the wire ("NOT_FOUND")."""

    number: ErrorReason.ValueType
    name: str
    grpc_code: grpc.StatusCode
    http_status: int
    error_type: str


def _read() -> dict[ErrorReason.ValueType, Reason]:
    reasons: dict[ErrorReason.ValueType, Reason] = {}
    for value in ErrorReason.DESCRIPTOR.values:
        if not value.number:
            continue
        options = value.GetOptions()
        number = ErrorReason.Value(value.name)
        reasons[number] = Reason(
            number=number,
            name=value.name.removeprefix(PREFIX),
            grpc_code=_GRPC_CODES[options.Extensions[common_pb2.grpc_code]],
            http_status=options.Extensions[common_pb2.http_status],
            error_type=options.Extensions[common_pb2.error_type],
        )
    return reasons


# Every reason but ERROR_REASON_UNSPECIFIED, by number and by its wire name.
REASONS = _read()
BY_NAME = {reason.name: reason for reason in REASONS.values()}


def of(number: ErrorReason.ValueType) -> Reason:
    """The reason a domain error names."""
    return REASONS[number]


def named(name: str | None) -> Reason | None:
    """The reason an ErrorInfo spells; None for no reason, or one this contract does not know."""
    return BY_NAME.get(name or "")
