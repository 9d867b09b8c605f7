"""The streaming mediator: streams a handler's results, dispatching its events after each one."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, TypeVar, overload

from cqrs._handler_source import HandlerSource
from cqrs.brokers.protocol import MessageBroker
from cqrs.correlation import leave as _leave
from cqrs.correlation import resume as _resume
from cqrs.events.event_emitter import EventEmitter
from cqrs.events.event_processor import EventProcessor
from cqrs.events.map import EventMap
from cqrs.interception._chain import Interception, closing
from cqrs.interception.interceptor import Interceptor
from cqrs.protocols.container import Container
from cqrs.requests.map import RequestMap
from cqrs.requests.request import Request
from cqrs.requests.request_handler import StreamingRequestHandler

__all__ = ["StreamingRequestMediator"]

_R = TypeVar("_R")


class StreamingRequestMediator:
    """Streams each result of the `StreamingRequestHandler` bound to a request's type.

    After every yield, the events the handler emitted so far are processed (concurrently, up to
    `max_concurrent_event_handlers`), then cleared, and only then is the result passed on.
    Closing the stream early closes the handler's generator.
    """

    def __init__(
        self,
        request_map: RequestMap,
        container: Container,
        event_emitter: EventEmitter | None = None,
        *,
        event_map: EventMap | None = None,
        message_broker: MessageBroker | None = None,
        max_concurrent_event_handlers: int = 10,
        concurrent_event_handle_enable: bool = True,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self._request_map = request_map
        self._handlers = HandlerSource(container)
        self._processor = EventProcessor.for_mediator(
            container,
            event_emitter,
            event_map=event_map,
            message_broker=message_broker,
            max_concurrent_event_handlers=max_concurrent_event_handlers,
            concurrent_event_handle_enable=concurrent_event_handle_enable,
            interceptors=interceptors,
        )
        self._interception = Interception(interceptors, watcher=self)
        self._intercepted: (
            Callable[[Any, Callable[[Any], AsyncIterator[Any]]], AsyncIterator[Any]] | None
        ) = None
        self._reintercept()

    def _reintercept(self) -> None:
        self._intercepted = self._interception.stream()

    @overload
    def stream(self, request: Request[_R]) -> AsyncGenerator[_R, None]: ...

    @overload
    def stream(self, request: Any) -> AsyncGenerator[Any, None]: ...

    def stream(self, request: Any) -> AsyncGenerator[Any, None]:
        """Yield the handler's results one by one; raises `HandlerNotBoundError` if unbound.

        Wrap it in `contextlib.aclosing` to close the handler at once when breaking out early.
        """
        if self._intercepted is None:
            return self._stream(request)
        opened: list[AsyncGenerator[Any, None]] = []

        def handled(request: Any) -> AsyncIterator[Any]:
            results = self._stream(request)
            opened.append(results)
            return results

        return closing(self._intercepted(request, handled), opened)

    async def _stream(self, request: Any) -> AsyncGenerator[Any, None]:
        binding = self._request_map.get(type(request))
        if not (isinstance(binding, type) and issubclass(binding, StreamingRequestHandler)):
            raise TypeError(
                f"{type(request).__qualname__} is not bound to a StreamingRequestHandler; "
                "use RequestMediator.send"
            )
        handler = await self._handlers.build(binding)
        results = handler.handle(request)
        # The scope is entered around each step, never across a yield: the consumer of the
        # stream runs between items, in its own scope.
        scope: list[Any] = []
        try:
            while True:
                token = _resume(scope)
                try:
                    result = await anext(results)
                except StopAsyncIteration:
                    break
                finally:
                    _leave(token)
                await self._process(handler, scope)
                yield result
            await self._process(handler, scope)
        finally:
            await results.aclose()

    async def _process(self, handler: Any, scope: list[Any]) -> None:
        events = list(handler.events)
        if events:
            handler.clear_events()
            token = _resume(scope)
            try:
                await self._processor.process(events)
            finally:
                _leave(token)
