"""Structural types of the three mediators, for annotating code that only sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload, runtime_checkable

if TYPE_CHECKING:
    from cqrs.requests.request import Request

__all__ = ["IEventMediator", "IRequestMediator", "IStreamingRequestMediator"]

_R = TypeVar("_R")


@runtime_checkable
class IRequestMediator(Protocol):
    """Sends a request to its single handler and returns the handler's result."""

    @overload
    async def send(self, request: Request[_R]) -> _R: ...

    @overload
    async def send(self, request: Any) -> Any: ...


@runtime_checkable
class IStreamingRequestMediator(Protocol):
    """Streams each result a streaming handler yields for a request."""

    @overload
    def stream(self, request: Request[_R]) -> AsyncIterator[_R]: ...

    @overload
    def stream(self, request: Any) -> AsyncIterator[Any]: ...


@runtime_checkable
class IEventMediator(Protocol):
    """Delivers one event to every handler bound to its type."""

    async def send(self, event: Any) -> None: ...
