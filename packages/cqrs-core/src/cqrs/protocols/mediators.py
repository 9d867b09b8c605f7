"""Structural types of the three mediators, for annotating code that only sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

__all__ = ["IEventMediator", "IRequestMediator", "IStreamingRequestMediator"]


@runtime_checkable
class IRequestMediator(Protocol):
    """Sends a request to its single handler and returns the handler's result."""

    async def send(self, request: Any) -> Any: ...


@runtime_checkable
class IStreamingRequestMediator(Protocol):
    """Streams each result a streaming handler yields for a request."""

    def stream(self, request: Any) -> AsyncIterator[Any]: ...


@runtime_checkable
class IEventMediator(Protocol):
    """Delivers one event to every handler bound to its type."""

    async def send(self, event: Any) -> None: ...
