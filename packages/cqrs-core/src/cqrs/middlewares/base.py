"""Composition of middlewares around a mediator's handling of a request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cqrs.protocols.middleware import HandleFunc, Middleware

__all__ = ["MiddlewareChain"]


class MiddlewareChain:
    """An ordered list of middlewares; the first one added is the outermost."""

    def __init__(self, middlewares: Sequence[Middleware] = ()) -> None:
        self._middlewares: list[Middleware] = list(middlewares)

    def add(self, middleware: Middleware) -> None:
        """Append `middleware` as the innermost so far."""
        self._middlewares.append(middleware)

    def __len__(self) -> int:
        return len(self._middlewares)

    def wrap(self, handle: HandleFunc) -> HandleFunc:
        """`handle` wrapped by every middleware, composed once rather than per call."""
        wrapped = handle
        for middleware in reversed(self._middlewares):
            wrapped = _bind(middleware, wrapped)
        return wrapped


def _bind(middleware: Middleware, handle: HandleFunc) -> HandleFunc:
    async def call(request: Any) -> Any:
        return await middleware(request, handle)

    return call
