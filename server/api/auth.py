"""Authentication for every bucketd RPC, in the gRPC server so gRPC clients get it too.

The interceptor checks `authorization: Bearer sk_…` before the servicer runs and makes the caller
available to it through `current_caller()` (a ContextVar, set for the duration of the call).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio

from bucketd.server.api.call_fields import note_caller, note_namespace
from bucketd.server.api.handlers import Behavior, ServerInterceptor, StreamBehavior, wrap_any
from bucketd.server.domain.models import Namespace, Principal
from bucketd.server.services.api_keys import ApiKeyService
from bucketd.server.services.namespaces import NamespaceService

PROTECTED_PREFIX = "/bucketd."  # health and reflection stay open, as load balancers expect


@dataclass(frozen=True)
class Caller:
    principal: Principal
    namespace_header: str | None


_CALLER: ContextVar[Caller] = ContextVar("bucketd_caller")


def current_caller() -> Caller:
    """The authenticated caller of the RPC being served."""
    return _CALLER.get()


class CallerNamespace:
    """Resolves the current call's X-Namespace in its organization (404 if it is not there)."""

    def __init__(self, namespaces: NamespaceService) -> None:
        self._namespaces = namespaces

    async def __call__(self) -> Namespace:
        caller = current_caller()
        namespace = await self._namespaces.resolve(caller.principal, caller.namespace_header)
        note_namespace(namespace.namespace_id)
        return namespace


class AuthInterceptor(ServerInterceptor):
    def __init__(self, api_keys: ApiKeyService) -> None:
        self._api_keys = api_keys

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(PROTECTED_PREFIX):
            return handler
        return wrap_any(handler, self._authenticated, self._authenticated_stream)

    async def _caller(self, context: aio.ServicerContext[Any, Any]) -> Caller:
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        principal = await self._api_keys.authenticate(_text(metadata.get("authorization")))
        note_caller(principal.organization_id)
        return Caller(principal, _text(metadata.get("x-namespace")))

    def _authenticated(self, behavior: Behavior) -> Behavior:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            token = _CALLER.set(await self._caller(context))
            try:
                return await behavior(request, context)
            finally:
                _CALLER.reset(token)

        return call

    def _authenticated_stream(self, behavior: StreamBehavior) -> StreamBehavior:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncGenerator[Any]:
            token = _CALLER.set(await self._caller(context))
            try:
                async for message in behavior(request, context):
                    yield message
            finally:
                _CALLER.reset(token)

        return call


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
