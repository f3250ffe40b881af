"""HTTP the parser refuses (a header past aiohttp's protocol limit, a malformed request line,
a bad chunk) answered in the error envelope like every other error.

aiohttp answers these before any handler or middleware runs, in plain text, from
RequestHandler.handle_error; the runner below makes its connections with a handler whose
handle_error answers the envelope instead (a 431 for a line or header field that is too long).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_request import BaseRequest

from bucketd.gateway.errors import envelope


class _EnvelopeHandler(web.RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The envelope for what the parser refused; anything else as aiohttp does it."""
        if not isinstance(exc, BadHttpMessage) or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            status, text = 431, "A request line or header field is too long: " + exc.message
        else:
            text = "The request is not valid HTTP: " + exc.message
        answer = envelope(status, text)
        answer.force_close()
        return answer


class _EnvelopeServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _EnvelopeHandler(self, loop=self._loop, **self._kwargs)


class EnvelopeRunner(web.AppRunner):
    """web.AppRunner whose connections answer protocol errors in the envelope."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        kwargs: dict[str, Any] = dict(made._kwargs)
        return _EnvelopeServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **kwargs,
        )
