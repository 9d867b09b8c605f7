"""Domain events handled in-process, one at a time or concurrently under a limit.

Run it with `uv run python examples/domain_events.py`. As in the seeds, `JoinMeetingCommand`'s
handler emits a `UserJoined` domain event per user; the mediator hands each one to the bound
event handlers before `send` returns. With the default settings they run sequentially; with
`max_concurrent_event_handlers=3` up to three run at once, and never more.
"""

# expect: sequential: 5 events handled, at most 1 handler at a time
# expect: concurrency disabled (limit 3): 5 events handled, at most 1 handler at a time
# expect: concurrent (limit 3): 5 events handled, at most 3 handlers at a time
# expect: read model of meeting 7: ['ada', 'alan', 'barbara', 'edsger', 'grace']

from __future__ import annotations

import asyncio

import cqrs
from cqrs.requests import bootstrap


class JoinMeetingCommand(cqrs.Request):
    meeting_id: int
    user_ids: list[str]


class UserJoined(cqrs.DomainEvent):
    meeting_id: int
    user_id: str


class Monitor:
    """Shared by the event handlers: the read model plus how many handlers ran at once."""

    def __init__(self) -> None:
        self.attendees: dict[int, list[str]] = {}
        self.handled = 0
        self.in_flight = 0
        self.peak = 0


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    async def handle(self, request: JoinMeetingCommand) -> None:
        for user_id in request.user_ids:
            self._events.append(UserJoined(meeting_id=request.meeting_id, user_id=user_id))


class UserJoinedEventHandler(cqrs.EventHandler[UserJoined]):
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    async def handle(self, event: UserJoined) -> None:
        monitor = self.monitor
        monitor.in_flight += 1
        monitor.peak = max(monitor.peak, monitor.in_flight)
        await asyncio.sleep(0.01)  # stands in for I/O, such as sending a welcome e-mail
        monitor.attendees.setdefault(event.meeting_id, []).append(event.user_id)
        monitor.handled += 1
        monitor.in_flight -= 1


async def join(label: str, limit: int = 1, enabled: bool = True) -> Monitor:
    """Send one command through a mediator with these concurrency settings; report the run."""
    container = cqrs.BuiltinContainer()
    container.register(Monitor, lifetime="singleton")
    mediator = bootstrap.bootstrap(
        di_container=container,
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
        domain_events_mapper=lambda m: m.bind(UserJoined, UserJoinedEventHandler),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=enabled,
    )
    users = ["ada", "grace", "alan", "barbara", "edsger"]
    await mediator.send(JoinMeetingCommand(meeting_id=7, user_ids=users))
    monitor = container.get(Monitor)
    handlers = "handler" if monitor.peak == 1 else "handlers"
    print(f"{label}: {monitor.handled} events handled, at most {monitor.peak} {handlers} at a time")
    return monitor


async def main() -> None:
    await join("sequential")
    await join("concurrency disabled (limit 3)", limit=3, enabled=False)
    monitor = await join("concurrent (limit 3)", limit=3)
    print(f"read model of meeting 7: {sorted(monitor.attendees[7])}")


if __name__ == "__main__":
    asyncio.run(main())
