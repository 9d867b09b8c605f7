"""An event handler with a fallback handler, optionally guarded by a circuit breaker."""

from __future__ import annotations

import dataclasses
from typing import Any

from cqrs._fallback import check_handler_class, check_options, check_same_subject
from cqrs.breakers.protocol import CircuitBreaker
from cqrs.events.event_handler import EventHandler

__all__ = ["EventHandlerFallback"]


@dataclasses.dataclass(frozen=True)
class EventHandlerFallback:
    """Bind in place of an event handler: when `primary` raises (one of `failure_exceptions`, or
    any exception if empty) or its circuit is open, `fallback` handles the event instead.
    """

    primary: type[EventHandler[Any]]
    fallback: type[EventHandler[Any]]
    failure_exceptions: tuple[type[Exception], ...] = ()
    circuit_breaker: CircuitBreaker | None = None

    def __post_init__(self) -> None:
        check_handler_class("EventHandlerFallback", "primary", self.primary, EventHandler)
        check_handler_class("EventHandlerFallback", "fallback", self.fallback, EventHandler)
        check_same_subject("EventHandlerFallback", self.primary, self.fallback, EventHandler)
        check_options("EventHandlerFallback", self.failure_exceptions, self.circuit_breaker)


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
