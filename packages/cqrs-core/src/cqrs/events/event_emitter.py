"""Delivers one event: to its in-process handlers, and to the broker if it is a notification."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cqrs._fallback import run_with_fallback
from cqrs._handler_source import HandlerSource
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventHandlerBinding, EventMap
from cqrs.protocols.container import Container
from cqrs.protocols.message_broker import Message, MessageBroker
from cqrs.protocols.serializer import Serializer

__all__ = ["EventEmitter", "EventUnit"]

EventUnit = Callable[[], Awaitable[Sequence[Any]]]
"""One piece of work for one event (a handler run or a publish); returns follow-up events."""

_log = logging.getLogger("cqrs.events")


class EventEmitter:
    """Turns an event into units of work: one per bound handler, plus one publish per notification.

    Any event whose type (or a base of it) is bound in `event_map` goes to those handlers;
    notification events (with a `topic`) are also published to `message_broker`.
    """

    def __init__(
        self,
        event_map: EventMap,
        container: Container,
        message_broker: MessageBroker | None = None,
        *,
        serializer: Serializer | None = None,
    ) -> None:
        self._event_map = event_map
        self._handlers = HandlerSource(container)
        self._broker = message_broker
        self._serializer = serializer
        self._warned_no_broker = False

    @property
    def message_broker(self) -> MessageBroker | None:
        """Where notification events are published (`None`: they are dropped with a warning)."""
        return self._broker

    def units(self, event: Any, *, publish: bool = True) -> list[EventUnit]:
        """The work `event` causes, in handler binding order, publish last (unless `publish` is false)."""
        units: list[EventUnit] = [
            self._handler_unit(binding, event) for binding in self._event_map.get(type(event))
        ]
        if publish and getattr(event, "__cqrs_notification__", False):
            units.append(lambda: self._publish(event))
        return units

    async def emit(self, event: Any) -> list[Any]:
        """Run every unit of `event` one after another; return the follow-up events."""
        follow_ups: list[Any] = []
        for unit in self.units(event):
            follow_ups.extend(await unit())
        return follow_ups

    def _handler_unit(self, binding: EventHandlerBinding, event: Any) -> EventUnit:
        if isinstance(binding, EventHandlerFallback):
            return lambda: self._run_fallback(binding, event)
        factory = self._handlers.factory(binding)
        if factory is not None:

            async def run_built() -> Sequence[Any]:
                handler = factory()
                await handler.handle(event)
                return tuple(handler.events)

            return run_built

        async def run_resolved() -> Sequence[Any]:
            handler = await self._handlers.build(binding)
            await handler.handle(event)
            return tuple(handler.events)

        return run_resolved

    async def _run_fallback(self, binding: EventHandlerFallback, event: Any) -> Sequence[Any]:
        async def attempt(handler_type: type) -> Sequence[Any]:
            handler = await self._handlers.build(handler_type)
            await handler.handle(event)
            return tuple(handler.events)

        return await run_with_fallback(
            binding.primary,
            lambda: attempt(binding.primary),
            lambda: attempt(binding.fallback),
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
            await self._broker.send_message(message)
        except Exception:
            _log.exception(
                "publishing %s %s to topic %r failed", event.event_name, event.event_id, event.topic
            )
            raise
        return ()
