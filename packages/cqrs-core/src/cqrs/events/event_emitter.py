"""Delivers one event: to its in-process handlers, and to the broker if it is a notification."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cqrs._fallback import run_with_fallback
from cqrs._handler_source import HandlerSource
from cqrs.brokers.message import Message
from cqrs.brokers.protocol import MessageBroker
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventHandlerBinding, EventMap
from cqrs.interception._chain import Interception
from cqrs.interception.interceptor import Interceptor
from cqrs.protocols.container import Container
from cqrs.protocols.serializer import EventSerializer, Serializer

__all__ = ["EventEmitter", "EventStep"]

EventStep = Callable[[Any], Awaitable[Sequence[Any]]]
"""One piece of work for an event (a handler run or a publish); returns follow-up events."""

_log = logging.getLogger("cqrs.events")


class EventEmitter:
    """Turns an event into steps: one per bound handler, plus one publish per notification.

    Any event whose type (or a base of it) is bound in `event_map` goes to those handlers;
    notification events (with a `topic`) are also published to `message_broker`. The steps of
    each event type are worked out once and cached.
    """

    def __init__(
        self,
        event_map: EventMap,
        container: Container,
        message_broker: MessageBroker | None = None,
        *,
        serializer: Serializer | EventSerializer | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self._event_map = event_map
        self._handlers = HandlerSource(container)
        self._broker = message_broker
        self._serializer = serializer
        self._warned_no_broker = False
        self._plans: dict[tuple[type, bool], tuple[EventStep, ...]] = {}
        self._interception = Interception(interceptors, watcher=self)
        self._send: Callable[[Message], Awaitable[None]] | None = None
        self._reintercept()

    def _reintercept(self) -> None:
        """Forget the steps worked out so far: they are composed again with the interceptors."""
        self._plans = {}
        publishers = (
            self._interception.publishers(self._broker, "emitter")
            if self._broker is not None
            else None
        )
        self._send = publishers[0] if publishers is not None else None

    @property
    def message_broker(self) -> MessageBroker | None:
        """Where notification events are published (`None`: they are dropped with a warning)."""
        return self._broker

    def steps(self, event_type: type, publish: bool = True) -> tuple[EventStep, ...]:
        """The work an event of `event_type` causes, in binding order, publish last if `publish`."""
        try:
            return self._plans[event_type, publish]
        except KeyError:
            pass
        steps = [self._handler_step(binding) for binding in self._event_map.get(event_type)]
        if publish and getattr(event_type, "__cqrs_notification__", False):
            steps.append(self._publish)
        plan = self._plans[event_type, publish] = tuple(steps)
        return plan

    async def emit(self, event: Any) -> list[Any]:
        """Run every step of `event` one after another; return the follow-up events."""
        follow_ups: list[Any] = []
        for step in self.steps(type(event)):
            follow_ups.extend(await step(event))
        return follow_ups

    def _handler_step(self, binding: EventHandlerBinding) -> EventStep:
        if isinstance(binding, EventHandlerFallback):
            return self._interception.event(
                binding.primary, lambda event: self._run_fallback(binding, event)
            )
        factory = self._handlers.factory(binding)
        if factory is None:
            return self._interception.event(binding, lambda event: self._run(binding, event))

        async def run_built(event: Any) -> Sequence[Any]:
            handler = factory()
            await handler.handle(event)
            events: Sequence[Any] = handler.events
            return events

        return self._interception.event(binding, run_built)

    async def _run(self, handler_type: type, event: Any) -> Sequence[Any]:
        handler = await self._handlers.build(handler_type)
        await handler.handle(event)
        events: Sequence[Any] = handler.events
        return events

    async def _run_fallback(self, binding: EventHandlerFallback, event: Any) -> Sequence[Any]:
        return await run_with_fallback(
            binding.primary,
            lambda: self._run(binding.primary, event),
            lambda: self._run(binding.fallback, event),
            binding.failure_exceptions,
            binding.circuit_breaker,
        )

    async def _publish(self, event: Any) -> Sequence[Any]:
        if self._broker is None:
            if not self._warned_no_broker:
                self._warned_no_broker = True
                _log.warning(
                    "no message broker is configured: notification event %s (%s) was dropped; "
                    "pass message_broker= to bootstrap, or use the transactional outbox",
                    event.event_name,
                    event.event_id,
                )
            return ()
        message = Message.from_event(event, self._serializer)
        try:
            if self._send is None:
                await self._broker.send_message(message)
            else:
                await self._send(message)
        except Exception:
            _log.exception(
                "publishing %s %s to topic %r failed", event.event_name, event.event_id, event.topic
            )
            raise
        return ()
