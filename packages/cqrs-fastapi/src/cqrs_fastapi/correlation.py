"""`CorrelationMiddleware`: each HTTP request is a correlation scope (`cqrs.correlation`), so the
events its commands emit carry the caller's correlation id, and the response tells it back.

Example::

    app.add_middleware(CorrelationMiddleware)          # reads and answers X-Correlation-ID
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cqrs import correlation

__all__ = ["DEFAULT_HEADER", "CorrelationMiddleware"]

DEFAULT_HEADER = "X-Correlation-ID"

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_ACCEPTED = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
"""What a caller's id may be: short and plain, since it ends up in broker headers and logs."""


class CorrelationMiddleware:
    """An ASGI middleware: the correlation id of a request is its `header` (when it is a plain
    token of at most 128 characters), else a new one, and the request's own id (the causation
    of what its handlers emit) is its `request_header` or a new one. The response carries the
    correlation id in `header`. A pure ASGI middleware, so the scope reaches the route in the
    same task (Starlette's `BaseHTTPMiddleware` would run the route elsewhere)."""

    def __init__(
        self,
        app: Callable[[_Scope, _Receive, _Send], Awaitable[None]],
        *,
        header: str = DEFAULT_HEADER,
        request_header: str = "X-Request-ID",
    ) -> None:
        self.app = app
        self.header = header
        self._header = header.lower().encode("latin-1")
        self._request_header = request_header.lower().encode("latin-1")

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ()))
        correlation_id = _accepted(given.get(self._header)) or str(uuid.uuid4())
        request_id = _accepted(given.get(self._request_header))
        answer = (self._header, correlation_id.encode("latin-1"))

        async def send_with_header(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != self._header]
                message["headers"] = [*headers, answer]
            await send(message)

        with correlation.scope(message_id=request_id, correlation_id=correlation_id):
            await self.app(scope, receive, send_with_header)


def _accepted(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1")
    return text if _ACCEPTED.fullmatch(text) else None
