"""The middleware boundary: code that wraps every `send` of a request mediator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["HandleFunc", "Middleware"]

HandleFunc = Callable[[Any], Awaitable[Any]]


@runtime_checkable
class Middleware(Protocol):
    """Receives the request and the rest of the chain; returns what the chain returns."""

    async def __call__(self, request: Any, handle: HandleFunc) -> Any: ...
