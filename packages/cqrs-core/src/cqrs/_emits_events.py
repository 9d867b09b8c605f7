"""The `events` storage shared by request, streaming and event handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__: list[str] = []


class _EmitsEvents:
    """Default `events` storage; a subclass may override `events` with its own property."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        prop = cls.__dict__.get("events")
        if isinstance(prop, property) and prop.fset is None:
            # Handlers written as `self.events = []` next to a read-only `events` property
            # store the list where the property reads it.
            def _store(self: Any, value: list[Any]) -> None:
                self._events = value

            setattr(cls, "events", prop.setter(_store))  # noqa: B010

    @property
    def events(self) -> Sequence[Any]:
        """Events emitted while handling; the mediator reads them once `handle` returns."""
        events: Sequence[Any] = self.__dict__.get("_events", ())
        return events

    def clear_events(self) -> None:
        """Forget the events read so far (streaming handlers are asked to after each yield)."""
        events = self.__dict__.get("_events")
        if isinstance(events, list):
            events.clear()
