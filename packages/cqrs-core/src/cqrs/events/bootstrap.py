"""One-call construction of the event mediator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from cqrs import _bootstrap
from cqrs.brokers.protocol import MessageBroker
from cqrs.interception.interceptor import Interceptor
from cqrs.mediators.event import EventMediator
from cqrs.middlewares.base import MiddlewareChain
from cqrs.protocols.middleware import Middleware

__all__ = ["bootstrap"]


def bootstrap(
    di_container: Any = None,
    events_mapper: _bootstrap.EventMapper | None = None,
    message_broker: MessageBroker | str | None = None,
    on_startup: Iterable[Callable[[], Any]] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
    interceptors: Sequence[Interceptor] = (),
    middlewares: Sequence[Middleware] = (),
) -> EventMediator:
    """Build an `EventMediator` for events consumed from a broker.

    `message_broker` receives the notification events that handlers emit as follow-ups.
    `middlewares` run around each handler's run of an event (their `handle` returns `None`);
    python-cqrs 4.x accepted them here but never called them.
    """
    _bootstrap.run_startup(on_startup)
    return EventMediator(
        _bootstrap.event_map(events_mapper),
        _bootstrap.container(di_container),
        message_broker=_bootstrap.message_broker(message_broker),
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
        interceptors=[*interceptors, *_middleware_interceptors(middlewares)],
    )


def _middleware_interceptors(middlewares: Sequence[Middleware]) -> list[Interceptor]:
    """The interceptor running `middlewares` around each event handler, if there are any."""
    return [_MiddlewaresAroundHandlers(MiddlewareChain(middlewares))] if middlewares else []


class _MiddlewaresAroundHandlers(Interceptor):
    """Runs a middleware chain around each event handler, keeping the follow-up events."""

    def __init__(self, chain: MiddlewareChain) -> None:
        self._chain = chain

    async def intercept_event(
        self, event: Any, handler: type, proceed: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Sequence[Any]:
        emitted: list[Any] = []

        async def handle(event: Any) -> None:
            emitted.extend(await proceed(event))

        await self._chain.wrap(handle)(event)
        return emitted


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
