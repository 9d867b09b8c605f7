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


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
