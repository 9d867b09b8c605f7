"""Thin adapters for python-cqrs 4.x call shapes that have no function of their own here.

`cqrs._compat.PYCQRS4_PATHS` serves them at their 4.x paths (`setup_event_emitter` at
`cqrs.requests.bootstrap`, ...); each builds the same objects as the bootstraps do.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from cqrs import _bootstrap
from cqrs.brokers.protocol import MessageBroker
from cqrs.events.bootstrap import _middleware_interceptors
from cqrs.events.event_emitter import EventEmitter
from cqrs.events.map import EventMap
from cqrs.mediators.event import EventMediator
from cqrs.mediators.request import RequestMediator
from cqrs.mediators.streaming import StreamingRequestMediator
from cqrs.middlewares.base import MiddlewareChain
from cqrs.protocols.middleware import Middleware
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.serializers import JsonSerializer

if TYPE_CHECKING:
    from cqrs.saga.map import SagaMap
    from cqrs.saga.mediator import SagaMediator

__all__ = [
    "build_chain",
    "default_serializer",
    "setup_event_emitter",
    "setup_event_mediator",
    "setup_request_mediator",
    "setup_saga_mediator",
    "setup_streaming_mediator",
]

_Link = TypeVar("_Link", bound=CORRequestHandler[Any, Any])


def setup_event_emitter(
    container: Any,
    domain_events_mapper: _bootstrap.EventMapper | None = None,
    message_broker: MessageBroker | str | None = None,
) -> EventEmitter:
    """The emitter `cqrs.requests.bootstrap.bootstrap` builds, for 4.x code that assembles
    its mediator by hand."""
    return EventEmitter(
        _bootstrap.event_map(domain_events_mapper),
        _bootstrap.container(container),
        _bootstrap.message_broker(message_broker),
    )


def setup_request_mediator(
    event_emitter: EventEmitter,
    container: Any,
    middlewares: Iterable[Middleware],
    commands_mapper: _bootstrap.RequestMapper | None = None,
    queries_mapper: _bootstrap.RequestMapper | None = None,
    event_map: EventMap | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
) -> RequestMediator:
    """A `RequestMediator` over `event_emitter` (4.x's `requests.bootstrap.setup_mediator`).

    `event_map` is accepted for the 4.x signature; the emitter's own map is the one used.
    """
    return RequestMediator(
        _bootstrap.request_map(commands_mapper, queries_mapper),
        _bootstrap.container(container),
        event_emitter,
        MiddlewareChain(list(middlewares)),
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
    )


def setup_streaming_mediator(
    event_emitter: EventEmitter,
    container: Any,
    middlewares: Iterable[Middleware],
    commands_mapper: _bootstrap.RequestMapper | None = None,
    queries_mapper: _bootstrap.RequestMapper | None = None,
    domain_events_mapper: _bootstrap.EventMapper | None = None,
    max_concurrent_event_handlers: int = 10,
    concurrent_event_handle_enable: bool = True,
) -> StreamingRequestMediator:
    """A `StreamingRequestMediator` over `event_emitter` (4.x's
    `requests.bootstrap.setup_streaming_mediator`).

    `middlewares` and `domain_events_mapper` are accepted for the 4.x signature: 4.x never ran
    middlewares around streams, and the emitter's own map is the one used.
    """
    return StreamingRequestMediator(
        _bootstrap.request_map(commands_mapper, queries_mapper),
        _bootstrap.container(container),
        event_emitter,
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
    )


def setup_event_mediator(
    container: Any,
    middlewares: Sequence[Middleware],
    events_mapper: _bootstrap.EventMapper | None = None,
) -> EventMediator:
    """An `EventMediator` (4.x's `events.bootstrap.setup_mediator`); the middlewares run around
    each event handler, as with `cqrs.events.bootstrap.bootstrap(middlewares=...)`."""
    return EventMediator(
        _bootstrap.event_map(events_mapper),
        _bootstrap.container(container),
        interceptors=_middleware_interceptors(middlewares),
    )


def setup_saga_mediator(
    event_emitter: EventEmitter,
    container: Any,
    middlewares: Iterable[Middleware],
    sagas_mapper: Callable[[SagaMap], Any] | None = None,
    event_map: EventMap | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
    saga_storage: Any = None,
) -> SagaMediator:
    """A `SagaMediator` over `event_emitter` (4.x's `saga.bootstrap.setup_saga_mediator`).

    `middlewares` are accepted for the 4.x signature (4.x never ran them around sagas);
    `saga_storage` may be one written for 4.x's `ISagaStorage` (memory storage if omitted).
    """
    from cqrs.saga.map import SagaMap
    from cqrs.saga.mediator import SagaMediator
    from cqrs.saga.storage.pycqrs4_storage import as_saga_storage

    saga_map = SagaMap()
    if sagas_mapper is not None:
        sagas_mapper(saga_map)
    return SagaMediator(
        saga_map,
        _bootstrap.container(container),
        event_emitter,
        storage=None if saga_storage is None else as_saga_storage(saga_storage),
        event_map=event_map,
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
    )


def build_chain(handlers: Sequence[_Link]) -> _Link:
    """Link `handlers` in order and return the first; binding the list of handler classes in a
    `RequestMap` does this for you."""
    if not handlers:
        raise ValueError("build_chain needs at least one handler")
    for current, following in itertools.pairwise(handlers):
        current.set_next(following)
    return handlers[0]


_JSON = JsonSerializer()


def default_serializer(message: Any) -> bytes:
    """JSON bytes of `message.to_dict()` (or of a Pydantic `model_dump`, or of the value)."""
    to_dict: Callable[[], Any] | None = getattr(message, "to_dict", None)
    if to_dict is None:
        dump = getattr(message, "model_dump", None)
        to_dict = (lambda: dump(mode="json")) if dump is not None else (lambda: message)
    return _JSON.dumps(to_dict())
