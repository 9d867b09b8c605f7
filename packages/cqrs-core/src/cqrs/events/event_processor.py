"""Runs the handlers of a batch of events and their follow-ups, sequentially or concurrently."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

from cqrs.events.event_emitter import EventEmitter, EventUnit

__all__ = ["EventProcessor"]


class EventProcessor:
    """Processes events and the follow-up events their handlers emit, until none are left.

    Sequentially (breadth first) when concurrency is disabled or the limit is 1; otherwise every
    unit of work starts as soon as the limit allows, never more than
    `max_concurrent_event_handlers` at once. Every unit runs even if another fails; then the
    single failure is re-raised, or an `ExceptionGroup` if several failed.
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
        queue = deque((event, publish) for event in events)
        errors: list[Exception] = []
        while queue:
            event, publish_it = queue.popleft()
            for unit in self.emitter.units(event, publish=publish_it):
                try:
                    queue.extend((follow_up, True) for follow_up in await unit())
                except Exception as exc:
                    errors.append(exc)
        _raise(errors)

    async def _concurrently(self, events: Iterable[Any], publish: bool) -> None:
        limit = asyncio.Semaphore(self.max_concurrent_event_handlers)
        errors: list[Exception] = []
        pending: set[asyncio.Task[None]] = set()

        def schedule(event: Any, publish_it: bool = True) -> None:
            for unit in self.emitter.units(event, publish=publish_it):
                pending.add(asyncio.ensure_future(run(unit)))

        async def run(unit: EventUnit) -> None:
            try:
                async with limit:
                    follow_ups = await unit()
            except Exception as exc:
                errors.append(exc)
                return
            for event in follow_ups:
                schedule(event)

        for event in events:
            schedule(event, publish)
        while pending:
            batch = list(pending)
            pending.clear()
            await asyncio.gather(*batch)
        _raise(errors)


def _raise(errors: list[Exception]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup(f"{len(errors)} event handlers failed", errors)
