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
