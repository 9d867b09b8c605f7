"""A request handler with a fallback handler, optionally guarded by a circuit breaker."""

from __future__ import annotations

import dataclasses
from typing import Any

from cqrs._fallback import check_handler_class, check_options, check_same_subject
from cqrs.breakers.protocol import CircuitBreaker
from cqrs.requests.request_handler import RequestHandler

__all__ = ["RequestHandlerFallback"]


@dataclasses.dataclass(frozen=True)
class RequestHandlerFallback:
    """Bind in place of a handler: when `primary` raises (one of `failure_exceptions`, or any
    exception if empty) or its circuit is open, `fallback` handles the request instead.
    """

    primary: type[RequestHandler[Any, Any]]
    fallback: type[RequestHandler[Any, Any]]
    failure_exceptions: tuple[type[Exception], ...] = ()
    circuit_breaker: CircuitBreaker | None = None

    def __post_init__(self) -> None:
        check_handler_class("RequestHandlerFallback", "primary", self.primary, RequestHandler)
        check_handler_class("RequestHandlerFallback", "fallback", self.fallback, RequestHandler)
        check_same_subject("RequestHandlerFallback", self.primary, self.fallback, RequestHandler)
        check_options("RequestHandlerFallback", self.failure_exceptions, self.circuit_breaker)


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
