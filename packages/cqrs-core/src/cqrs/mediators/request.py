"""The request mediator: sends each command or query to its one handler, then its events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from cqrs._handler_source import HandlerSource
from cqrs.brokers.protocol import MessageBroker
from cqrs.correlation import enter as _enter
from cqrs.correlation import leave as _leave
from cqrs.events.event_emitter import EventEmitter
from cqrs.events.event_processor import EventProcessor
from cqrs.events.map import EventMap
from cqrs.interception._chain import Interception
from cqrs.interception.interceptor import Interceptor
from cqrs.mediators._runners import Runner, compile_runner
from cqrs.middlewares.base import MiddlewareChain
from cqrs.protocols.container import Container
from cqrs.requests.map import RequestMap
from cqrs.requests.request import Request
from cqrs.requests.request_handler import RequestHandler

__all__ = ["RequestMediator"]

_R = TypeVar("_R")


class RequestMediator:
    """Sends a request to the handler bound to its type and returns the handler's result.

    Events the handler emitted are then processed before `send` returns: types bound in the
    event map go to their in-process handlers (follow-ups included), notification events are
    published through the event emitter's broker.
    """

    def __init__(
        self,
        request_map: RequestMap,
        container: Container,
        event_emitter: EventEmitter | None = None,
        middleware_chain: MiddlewareChain | None = None,
        *,
        event_map: EventMap | None = None,
        message_broker: MessageBroker | None = None,
        max_concurrent_event_handlers: int = 1,
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
        self._fast: dict[type, Callable[[], Any]] = {}
        self._runners: dict[type, Runner] = {}
        self._middleware_chain = middleware_chain
        self._interception = Interception(interceptors, watcher=self)
        self._send: Callable[[Any], Any] | None = None
        self._reintercept()

    def _reintercept(self) -> None:
        """Compose `send`'s chain: interceptors outside, then middlewares, then the handler."""
        chain = self._middleware_chain
        inner = chain.wrap(self._dispatch) if chain is not None and len(chain) else None
        self._send = self._interception.request(inner or self._dispatch) or inner

    @overload
    async def send(self, request: Request[_R]) -> _R: ...

    @overload
    async def send(self, request: Any) -> Any: ...

    async def send(self, request: Any) -> Any:
        """Handle `request` and its events; raises `HandlerNotBoundError` if nothing is bound.

        Returns the handler's result: typed by the request's `cqrs.Request[Response]` base.
        The send is a correlation scope (`cqrs.correlation`): what its handler emits is caused
        by it."""
        token = _enter()
        try:
            if self._send is not None:
                return await self._send(request)
            factory = self._fast.get(request.__class__)
            if factory is None:
                return await self._dispatch(request)
            handler = factory()
            result = await handler.handle(request)
            events = handler.events
            if events:
                await self._processor.process(list(events))
            return result
        finally:
            _leave(token)

    async def _dispatch(self, request: Any) -> Any:
        request_type = request.__class__
        factory = self._fast.get(request_type)
        if factory is not None:
            handler = factory()
            result = await handler.handle(request)
            events = list(handler.events)
        else:
            runner = self._runners.get(request_type) or self._compile(request_type)
            if runner is None:
                return await self._dispatch(request)
            result, events = await runner(request)
        if events:
            await self._processor.process(events)
        return result

    def _compile(self, request_type: type) -> Runner | None:
        binding = self._request_map.get(request_type)
        if isinstance(binding, type) and issubclass(binding, RequestHandler):
            factory = self._handlers.factory(binding)
            if factory is not None:
                self._fast[request_type] = factory
                return None
        if (
            not isinstance(binding, tuple)
            and isinstance(binding, type)
            and not issubclass(binding, RequestHandler)
        ):
            raise TypeError(
                f"{request_type.__qualname__} is bound to the streaming handler "
                f"{binding.__qualname__}: use StreamingRequestMediator.stream"
            )
        runner = self._runners[request_type] = compile_runner(binding, self._handlers)
        return runner

    @property
    def event_processor(self) -> EventProcessor:
        """The processor handling events emitted by request handlers."""
        return self._processor
