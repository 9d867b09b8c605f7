"""Base class of event handlers."""

from __future__ import annotations

import abc
from typing import Any, Generic, TypeVar

from cqrs._emits_events import _EmitsEvents

__all__ = ["EventHandler"]

EventT = TypeVar("EventT")


class EventHandler(_EmitsEvents, abc.ABC, Generic[EventT]):
    """Handles one event type; events it appends to `self._events` are handled next (follow-ups)."""

    @abc.abstractmethod
    async def handle(self, event: EventT) -> None:
        """React to the event."""


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
