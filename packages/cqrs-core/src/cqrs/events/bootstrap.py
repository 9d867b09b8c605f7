"""One-call construction of the event mediator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cqrs import _bootstrap
from cqrs.brokers.protocol import MessageBroker
from cqrs.interception.interceptor import Interceptor
from cqrs.mediators.event import EventMediator

__all__ = ["bootstrap"]


def bootstrap(
    di_container: Any = None,
    events_mapper: _bootstrap.EventMapper | None = None,
    message_broker: MessageBroker | str | None = None,
    on_startup: Iterable[Callable[[], Any]] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
    interceptors: Sequence[Interceptor] = (),
) -> EventMediator:
    """Build an `EventMediator` for events consumed from a broker.

    `message_broker` receives the notification events that handlers emit as follow-ups.
    """
    _bootstrap.run_startup(on_startup)
    return EventMediator(
        _bootstrap.event_map(events_mapper),
        _bootstrap.container(di_container),
        message_broker=_bootstrap.message_broker(message_broker),
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
        interceptors=interceptors,
    )
