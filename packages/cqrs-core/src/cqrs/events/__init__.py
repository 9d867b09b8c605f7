"""Events, their handlers, the event map, emitter, processor and bootstrap."""

from cqrs.events.event import DomainEvent, Event, NotificationEvent
from cqrs.events.event_emitter import EventEmitter
from cqrs.events.event_handler import EventHandler
from cqrs.events.event_processor import EventProcessor
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventHandlerBinding, EventMap

__all__ = [
    "DomainEvent",
    "Event",
    "EventEmitter",
    "EventHandler",
    "EventHandlerBinding",
    "EventHandlerFallback",
    "EventMap",
    "EventProcessor",
    "NotificationEvent",
]

_LAZY = ("bootstrap",)


def __getattr__(name: str) -> object:
    """Load the submodules in `_LAZY` on first attribute access (they import the mediators);
    other names are python-cqrs 4.x's, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
