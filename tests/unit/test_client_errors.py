"""How the client names a failed call."""

from __future__ import annotations

import grpc
from grpc import aio

from bucketd.client.errors import Internal, Unavailable, from_rpc_error


def _failed(code: grpc.StatusCode, details: str) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), details, debug_error_string="")


def test_a_write_after_the_stream_ended_is_a_broken_stream_not_a_server_fault() -> None:
    """grpcio reports a streaming call whose connection broke mid-write as INTERNAL "Internal
    error from Core" about one time in six (grpc/grpc#36066): the client must resume, as it
    does after UNAVAILABLE, not give up on the upload."""
    error = from_rpc_error(_failed(grpc.StatusCode.INTERNAL, "Internal error from Core"))
    assert isinstance(error, Unavailable) and "grpc/grpc#36066" in error.message


def test_bucketds_own_internal_errors_stay_internal() -> None:
    error = from_rpc_error(_failed(grpc.StatusCode.INTERNAL, "internal error (request id r1)"))
    assert type(error) is Internal and error.code is grpc.StatusCode.INTERNAL
