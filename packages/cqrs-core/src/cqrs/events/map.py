"""The registry binding event types to the handlers that react to them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

from cqrs.events.event_handler import EventHandler
from cqrs.events.fallback import EventHandlerFallback

__all__ = ["EventHandlerBinding", "EventMap"]

EventHandlerBinding: TypeAlias = type[EventHandler[Any]] | EventHandlerFallback
"""What `EventMap.bind` accepts: an event handler class or a fallback pair."""


class EventMap:
    """Maps event types to any number of handlers.

    A handler bound to a base class also receives events of its subclasses; generic keys such as
    `NotificationEvent[Payload]` are real classes and bind like any other.
    """

    def __init__(self) -> None:
        self._registry: dict[type, list[EventHandlerBinding]] = {}
        self._resolved: dict[type, tuple[EventHandlerBinding, ...]] = {}

    def bind(self, event_type: type, handler: EventHandlerBinding) -> None:
        """Add `handler` for `event_type`; binding the same handler twice has no effect."""
        if not isinstance(handler, EventHandlerFallback) and not (
            isinstance(handler, type) and issubclass(handler, EventHandler)
        ):
            raise TypeError(
                f"cannot bind {getattr(event_type, '__qualname__', event_type)} to {handler!r}: "
                "expected an EventHandler subclass or an EventHandlerFallback"
            )
        handlers = self._registry.setdefault(event_type, [])
        if handler not in handlers:
            handlers.append(handler)
        self._resolved.clear()

    def get(self, event_type: type) -> tuple[EventHandlerBinding, ...]:
        """Every handler for `event_type`, including those bound to its base classes (cached)."""
        try:
            return self._resolved[event_type]
        except KeyError:
            pass
        found: list[EventHandlerBinding] = []
        for base in getattr(event_type, "__mro__", (event_type,)):
            for handler in self._registry.get(base, ()):
                if handler not in found:
                    found.append(handler)
        resolved = self._resolved[event_type] = tuple(found)
        return resolved

    def __contains__(self, event_type: object) -> bool:
        return isinstance(event_type, type) and bool(self.get(event_type))

    def __iter__(self) -> Iterator[type]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def items(self) -> Iterator[tuple[type, list[EventHandlerBinding]]]:
        """Each event type with the handlers bound directly to it."""
        return iter(self._registry.items())

    def event_types_by_name(self) -> dict[str, type]:
        """Bound types by class name, to rebuild events consumed from a broker."""
        return {t.__name__: t for t in self._registry}
