"""Runs the handlers of a batch of events and their follow-ups, sequentially or concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from cqrs.brokers.protocol import MessageBroker
from cqrs.events.event_emitter import EventEmitter, EventStep
from cqrs.events.map import EventMap
from cqrs.interception.interceptor import Interceptor
from cqrs.protocols.container import Container

__all__ = ["EventProcessor"]


class EventProcessor:
    """Processes events and the follow-up events their handlers emit, until none are left.

    Sequentially (breadth first) when concurrency is disabled or the limit is 1; otherwise every
    unit of work starts as soon as the limit allows, never more than
    `max_concurrent_event_handlers` at once. Every unit runs even if another fails; then the
    single failure is re-raised, or an `ExceptionGroup` if several failed. An emitter whose class
    replaces `EventEmitter.emit` (a subclass or a test double) has it called once per event.
    """

    def __init__(
        self,
        emitter: EventEmitter,
        *,
        max_concurrent_event_handlers: int = 1,
        concurrent_event_handle_enable: bool = True,
    ) -> None:
        if max_concurrent_event_handlers < 1:
            raise ValueError("max_concurrent_event_handlers must be at least 1")
        self.emitter = emitter
        self.max_concurrent_event_handlers = max_concurrent_event_handlers
        self.concurrent = concurrent_event_handle_enable and max_concurrent_event_handlers > 1
        self._steps_of = (
            emitter.steps
            if getattr(type(emitter), "emit", None) is EventEmitter.emit
            else self._emit_steps
        )

    def _emit_steps(self, event_type: type, publish: bool) -> tuple[EventStep, ...]:
        """The work of an event for an emitter whose class replaces `emit` (a subclass or a
        test double): one `emit` call, as python-cqrs 4.x made, unless not publishing."""
        if not publish:
            return self.emitter.steps(event_type, publish)
        return (self._emit,)

    async def _emit(self, event: Any) -> Sequence[Any]:
        follow_ups: Sequence[Any] | None = await self.emitter.emit(event)
        return follow_ups or ()

    @classmethod
    def for_mediator(
        cls,
        container: Container,
        event_emitter: EventEmitter | None,
        *,
        event_map: EventMap | None,
        message_broker: MessageBroker | None,
        max_concurrent_event_handlers: int,
        concurrent_event_handle_enable: bool,
        interceptors: Sequence[Interceptor] = (),
    ) -> EventProcessor:
        """The processor a mediator uses: over `event_emitter` (which keeps its own
        interceptors), or a new one for the map, the broker and `interceptors`."""
        if event_emitter is None:
            event_emitter = EventEmitter(
                event_map or EventMap(), container, message_broker, interceptors=interceptors
            )
        return cls(
            event_emitter,
            max_concurrent_event_handlers=max_concurrent_event_handlers,
            concurrent_event_handle_enable=concurrent_event_handle_enable,
        )

    async def process(self, events: Iterable[Any], *, publish: bool = True) -> None:
        """Handle `events` and all their follow-ups.

        With `publish=False` the given notification events are not published again (they came
        from the broker); follow-up notification events always are.
        """
        if self.concurrent:
            await self._concurrently(events, publish)
        else:
            await self._sequentially(events, publish)

    async def _sequentially(self, events: Iterable[Any], publish: bool) -> None:
        steps_of = self._steps_of
        errors: list[Exception] = []
        batch = list(events)
        while batch:
            follow_ups: list[Any] = []
            for event in batch:
                for step in steps_of(event.__class__, publish):
                    try:
                        emitted = await step(event)
                    except Exception as exc:
                        errors.append(exc)
                        continue
                    if emitted:
                        follow_ups.extend(emitted)
            batch, publish = follow_ups, True
        if errors:
            _raise(errors)

    async def _concurrently(self, events: Iterable[Any], publish: bool) -> None:
        limit = asyncio.Semaphore(self.max_concurrent_event_handlers)
        errors: list[Exception] = []
        pending: set[asyncio.Task[None]] = set()

        def schedule(event: Any, publish_it: bool = True) -> None:
            for step in self._steps_of(event.__class__, publish_it):
                pending.add(asyncio.ensure_future(run(step, event)))

        async def run(step: EventStep, event: Any) -> None:
            try:
                async with limit:
                    follow_ups = list(await step(event))
            except Exception as exc:
                errors.append(exc)
                return
            for follow_up in follow_ups:
                schedule(follow_up)

        for event in events:
            schedule(event, publish)
        while pending:
            batch = list(pending)
            pending.clear()
            await asyncio.gather(*batch)
        if errors:
            _raise(errors)


def _raise(errors: list[Exception]) -> None:
    if len(errors) == 1:
        raise errors[0]
    raise ExceptionGroup(f"{len(errors)} event handlers failed", errors)
