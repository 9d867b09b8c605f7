"""Base classes of request handlers: one result, or a stream of results."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from cqrs._emits_events import _EmitsEvents

__all__ = ["RequestHandler", "StreamingRequestHandler"]

ReqT = TypeVar("ReqT")
ResT = TypeVar("ResT")


class RequestHandler(_EmitsEvents, abc.ABC, Generic[ReqT, ResT]):
    """Handles one request type and returns one result; append emitted events to `self._events`."""

    @abc.abstractmethod
    async def handle(self, request: ReqT) -> ResT:
        """Carry out the request."""


class StreamingRequestHandler(_EmitsEvents, abc.ABC, Generic[ReqT, ResT]):
    """Handles one request type by yielding results; events are dispatched after every yield."""

    @abc.abstractmethod
    def handle(self, request: ReqT) -> AsyncIterator[ResT]:
        """Yield results as they become available (write it as an `async def` generator)."""
