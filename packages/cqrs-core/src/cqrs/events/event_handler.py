"""Base class of event handlers."""

from __future__ import annotations

import abc
from typing import Generic, TypeVar

from cqrs._emits_events import _EmitsEvents

__all__ = ["EventHandler"]

EventT = TypeVar("EventT")


class EventHandler(_EmitsEvents, abc.ABC, Generic[EventT]):
    """Handles one event type; events it appends to `self._events` are handled next (follow-ups)."""

    @abc.abstractmethod
    async def handle(self, event: EventT) -> None:
        """React to the event."""
