"""Authentication for every bucketd RPC, in the gRPC server so gRPC clients get it too.

The interceptor checks `authorization: Bearer sk_…` before the servicer runs and makes the caller
available to it through `current_caller()` (a ContextVar, set for the duration of the call).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
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
from bucketd.server.services.session_hold import session_not_found

PROTECTED_PREFIX = "/bucketd."  # health and reflection stay open, as load balancers expect


# An upload URL (domain/upload_urls.py) stands in for a key on these calls of its one session.
UPLOAD_SESSION_HEADER = "x-upload-session"
UPLOAD_SECRET_HEADER = "x-upload-secret"
_UPLOAD_URL_METHODS = frozenset(
    f"/bucketd.v1.ObjectService/{name}"
    for name in ("GetUploadSession", "CancelUploadSession", "UploadObject")
)
UploadUrls = Callable[[str, str], Awaitable[tuple[str, str]]]
UPLOAD_URL_KEY_ID = "upload-url"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    namespace_header: str | None
    # A caller that holds an upload URL instead of a key: the one session it may touch.
    session_id: str | None = None


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


def only_its_session(session_id: str) -> None:
    """A caller holding an upload URL names that URL's session, or finds none."""
    allowed = current_caller().session_id
    if allowed is not None and session_id != allowed:
        raise session_not_found(session_id)


async def its_session_only(messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """An UploadObject stream, whose header must name the upload URL's session."""
    first = True
    async for message in messages:
        if first and current_caller().session_id is not None:
            header = getattr(message, "header", None)
            only_its_session(header.session_id if header is not None else "")
        first = False
        yield message


class AuthInterceptor(ServerInterceptor):
    def __init__(self, api_keys: ApiKeyService, upload_urls: UploadUrls) -> None:
        self._api_keys = api_keys
        self._upload_urls = upload_urls

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
        url_allowed = handler_call_details.method in _UPLOAD_URL_METHODS
        return wrap_any(
            handler,
            lambda b: self._authenticated(b, url_allowed),
            lambda b: self._authenticated_stream(b, url_allowed),
        )

    async def _context_caller(
        self, context: aio.ServicerContext[Any, Any], url_allowed: bool
    ) -> Caller:
        metadata = {key: _text(value) for key, value in context.invocation_metadata() or ()}
        caller = await self._caller(metadata, url_allowed)
        note_caller(caller.principal.organization_id)
        return caller

    def _authenticated(self, behavior: Behavior, url_allowed: bool) -> Behavior:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            token = _CALLER.set(await self._context_caller(context, url_allowed))
            try:
                return await behavior(request, context)
            finally:
                _CALLER.reset(token)

        return call

    async def _caller(self, metadata: dict[str, str | None], url_allowed: bool) -> Caller:
        """A key's caller; or, without a key, an upload URL's (its session's namespace)."""
        session_id = metadata.get(UPLOAD_SESSION_HEADER)
        secret = metadata.get(UPLOAD_SECRET_HEADER)
        if url_allowed and "authorization" not in metadata and session_id:
            organization_id, namespace_id = await self._upload_urls(session_id, secret or "")
            # each upload URL its own rate-limit bucket: one page cannot throttle every other
            key_id = f"{UPLOAD_URL_KEY_ID}:{session_id}"
            principal = Principal(organization_id=organization_id, key_id=key_id)
            return Caller(principal, namespace_id, session_id=session_id)
        principal = await self._api_keys.authenticate(metadata.get("authorization"))
        return Caller(principal, metadata.get("x-namespace"))

    def _authenticated_stream(self, behavior: StreamBehavior, url_allowed: bool) -> StreamBehavior:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncGenerator[Any]:
            token = _CALLER.set(await self._context_caller(context, url_allowed))
            try:
                async for message in behavior(request, context):
                    yield message
            finally:
                _CALLER.reset(token)

        return call


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
