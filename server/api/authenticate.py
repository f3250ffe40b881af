"""AuthService: who is calling. The interceptor (auth.py) has already authenticated the call by
the time this answers, so the answer costs no more than the key check itself (cached)."""

from __future__ import annotations

from typing import Any, override

from grpc import aio

from bucketd.server.api.auth import current_caller
from bucketd.v1 import auth_pb2 as pb
from bucketd.v1 import auth_pb2_grpc

Context = aio.ServicerContext[Any, Any]


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    @override
    async def Authenticate(
        self, request: pb.AuthenticateRequest, context: Context
    ) -> pb.AuthenticateResponse:
        return pb.AuthenticateResponse(organization_id=current_caller().principal.organization_id)
