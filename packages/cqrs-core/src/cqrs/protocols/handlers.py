"""Structural types of handlers, for code that accepts any object shaped like one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["IEventHandler", "IRequestHandler", "IStreamingRequestHandler"]

ReqT_contra = TypeVar("ReqT_contra", contravariant=True)
ResT_co = TypeVar("ResT_co", covariant=True)
EventT_contra = TypeVar("EventT_contra", contravariant=True)


@runtime_checkable
class IRequestHandler(Protocol[ReqT_contra, ResT_co]):
    """Handles one request type; `events` lists what it emitted while handling."""

    @property
    def events(self) -> Sequence[Any]: ...

    async def handle(self, request: ReqT_contra) -> ResT_co: ...


@runtime_checkable
class IStreamingRequestHandler(Protocol[ReqT_contra, ResT_co]):
    """Yields results one by one; events emitted so far are read and cleared after each yield."""

    @property
    def events(self) -> Sequence[Any]: ...

    def clear_events(self) -> None: ...

    def handle(self, request: ReqT_contra) -> AsyncIterator[ResT_co]: ...


@runtime_checkable
class IEventHandler(Protocol[EventT_contra]):
    """Handles one event type; `events` lists follow-up events it emitted."""

    async def handle(self, event: EventT_contra) -> None: ...
