"""One-call construction of the request and streaming request mediators."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cqrs import _bootstrap
from cqrs.brokers.protocol import MessageBroker
from cqrs.events.event_emitter import EventEmitter
from cqrs.interception.interceptor import Interceptor
from cqrs.mediators.request import RequestMediator
from cqrs.mediators.streaming import StreamingRequestMediator
from cqrs.middlewares.base import MiddlewareChain
from cqrs.protocols.middleware import Middleware

__all__ = ["bootstrap", "bootstrap_streaming"]


def bootstrap(
    di_container: Any = None,
    commands_mapper: _bootstrap.RequestMapper | None = None,
    queries_mapper: _bootstrap.RequestMapper | None = None,
    domain_events_mapper: _bootstrap.EventMapper | None = None,
    message_broker: MessageBroker | str | None = None,
    middlewares: Sequence[Middleware] = (),
    on_startup: Iterable[Callable[[], Any]] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
    interceptors: Sequence[Interceptor] = (),
) -> RequestMediator:
    """Build a `RequestMediator`.

    `di_container` may be a `Container`, a foreign container a plugin adapts, or `None` for the
    built-in one; `message_broker` may be a broker or a URL such as `"memory://"`;
    `interceptors` wrap its sends, its event handlers and its publishes.
    """
    _bootstrap.run_startup(on_startup)
    container = _bootstrap.container(di_container)
    emitter = EventEmitter(
        _bootstrap.event_map(domain_events_mapper),
        container,
        _bootstrap.message_broker(message_broker),
        interceptors=interceptors,
    )
    return RequestMediator(
        _bootstrap.request_map(commands_mapper, queries_mapper),
        container,
        emitter,
        MiddlewareChain(middlewares),
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
        interceptors=interceptors,
    )


def bootstrap_streaming(
    di_container: Any = None,
    commands_mapper: _bootstrap.RequestMapper | None = None,
    queries_mapper: _bootstrap.RequestMapper | None = None,
    domain_events_mapper: _bootstrap.EventMapper | None = None,
    message_broker: MessageBroker | str | None = None,
    on_startup: Iterable[Callable[[], Any]] | None = None,
    max_concurrent_event_handlers: int = 10,
    concurrent_event_handle_enable: bool = True,
    interceptors: Sequence[Interceptor] = (),
) -> StreamingRequestMediator:
    """Build a `StreamingRequestMediator` (same parameters as `bootstrap`, events concurrent)."""
    _bootstrap.run_startup(on_startup)
    container = _bootstrap.container(di_container)
    emitter = EventEmitter(
        _bootstrap.event_map(domain_events_mapper),
        container,
        _bootstrap.message_broker(message_broker),
        interceptors=interceptors,
    )
    return StreamingRequestMediator(
        _bootstrap.request_map(commands_mapper, queries_mapper),
        container,
        emitter,
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
        interceptors=interceptors,
    )


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
