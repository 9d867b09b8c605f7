"""Pieces shared by the bootstrap functions: maps, container, broker and startup hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cqrs.brokers.protocol import MessageBroker
from cqrs.container.builtin import BuiltinContainer
from cqrs.events.map import EventMap
from cqrs.protocols.container import Container
from cqrs.requests.map import RequestMap

__all__: list[str] = []

RequestMapper = Callable[[RequestMap], Any]
EventMapper = Callable[[EventMap], Any]


def request_map(*mappers: RequestMapper | None) -> RequestMap:
    """A request map filled by each mapper in turn."""
    result = RequestMap()
    for mapper in mappers:
        if mapper is not None:
            mapper(result)
    return result


def event_map(mapper: EventMapper | None) -> EventMap:
    """An event map filled by `mapper`."""
    result = EventMap()
    if mapper is not None:
        mapper(result)
    return result


def container(di_container: Any) -> Container:
    """The given container, adapted by a plugin if foreign, or a new built-in container."""
    if di_container is None:
        return BuiltinContainer()
    if isinstance(di_container, Container):
        return di_container
    from cqrs.plugins.resolve import adapt_container

    return adapt_container(di_container)


def message_broker(broker: MessageBroker | str | None) -> MessageBroker | None:
    """The given broker, or the one a plugin builds for a URL such as `"memory://"`."""
    if isinstance(broker, str):
        from cqrs.plugins.resolve import make_message_broker

        return make_message_broker(broker)
    return broker


def run_startup(on_startup: Iterable[Callable[[], Any]] | None) -> None:
    """Call each startup hook once, in order (synchronous callables, as in the seeds)."""
    for hook in on_startup or ():
        hook()
