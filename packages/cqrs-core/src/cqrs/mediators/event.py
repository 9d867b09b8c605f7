"""The event mediator: delivers events consumed from a broker to their handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cqrs.brokers.protocol import MessageBroker
from cqrs.correlation import active as _active
from cqrs.correlation import enter as _enter
from cqrs.correlation import leave as _leave
from cqrs.events.event_emitter import EventEmitter
from cqrs.events.event_processor import EventProcessor
from cqrs.events.map import EventMap
from cqrs.interception.interceptor import Interceptor
from cqrs.protocols.container import Container

__all__ = ["EventMediator"]


class EventMediator:
    """Sends an event to every handler bound to its type, then handles their follow-up events.

    Follow-up notification events are published to `message_broker` when one is given.
    """

    def __init__(
        self,
        event_map: EventMap,
        container: Container,
        event_emitter: EventEmitter | None = None,
        *,
        message_broker: MessageBroker | None = None,
        max_concurrent_event_handlers: int = 1,
        concurrent_event_handle_enable: bool = True,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self._processor = EventProcessor.for_mediator(
            container,
            event_emitter,
            event_map=event_map,
            message_broker=message_broker,
            max_concurrent_event_handlers=max_concurrent_event_handlers,
            concurrent_event_handle_enable=concurrent_event_handle_enable,
            interceptors=interceptors,
        )

    async def send(self, event: Any) -> None:
        """Handle `event` with its bound handlers (a notification is not re-published).

        Handling is a correlation scope (`cqrs.correlation`): what the handlers emit or send
        carries, as causation, the event's id and, as correlation, the event's correlation id,
        else the enclosing scope's (a consumer's, from the message headers), else the event's id.
        """
        event_id = getattr(event, "event_id", None)
        message_id = None if event_id is None else str(event_id)
        correlation_id = getattr(event, "correlation_id", None)
        if correlation_id is None and not _active():
            correlation_id = message_id
        token = _enter(message_id, correlation_id)
        try:
            await self._processor.process((event,), publish=False)
        finally:
            _leave(token)
