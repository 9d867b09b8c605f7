"""The request mediator: results, events, follow-ups, concurrency, publishing, middlewares."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import cqrs
from cqrs import BuiltinContainer, LoggingMiddleware, MemoryMessageBroker, NotificationEvent
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap
from cqrs.requests.map import RequestMap

# --- models -------------------------------------------------------------------------------------


class GetUser(cqrs.Request):
    user_id: int


class User(cqrs.Response):
    user_id: int
    name: str


class RenameUser(cqrs.Request):
    user_id: int
    name: str
    ticks: int = 0


class UserRenamed(cqrs.DomainEvent):
    user_id: int
    name: str


class Level(cqrs.DomainEvent):
    depth: int


class Tick(cqrs.DomainEvent):
    index: int


class Boom(cqrs.DomainEvent):
    reason: str


class RenamedPayload(cqrs.Response):
    user_id: int
    name: str


Renamed = NotificationEvent[RenamedPayload]


class Journal:
    """Shared record of what ran, injected into every handler as a singleton."""

    def __init__(self) -> None:
        self.entries: list[str] = []


class Probe:
    """Counts handlers running at once; each waits at a barrier until the test releases it."""

    def __init__(self) -> None:
        self.running = 0
        self.max_running = 0
        self.finished = 0
        self.expected = 1
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self) -> None:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        if self.running >= self.expected:
            self.reached.set()
        try:
            await self.release.wait()
        finally:
            self.running -= 1
            self.finished += 1


# --- handlers -----------------------------------------------------------------------------------


class GetUserHandler(cqrs.RequestHandler[GetUser, User]):
    async def handle(self, request: GetUser) -> User:
        return User(user_id=request.user_id, name=f"user-{request.user_id}")


class RenameUserHandler(cqrs.RequestHandler[RenameUser, None]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, request: RenameUser) -> None:
        self.journal.entries.append(f"rename {request.name}")
        self._events.append(UserRenamed(user_id=request.user_id, name=request.name))
        self._events.extend(Tick(index=i) for i in range(request.ticks))


class RecordRenamed(cqrs.EventHandler[UserRenamed]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: UserRenamed) -> None:
        self.journal.entries.append(f"renamed {event.name}")


class AlsoRecordRenamed(cqrs.EventHandler[UserRenamed]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: UserRenamed) -> None:
        self.journal.entries.append(f"also renamed {event.name}")


class StartLevels(cqrs.EventHandler[UserRenamed]):
    """Emits the first of a chain of follow-up events."""

    def __init__(self) -> None:
        self._events: list[Any] = []

    async def handle(self, event: UserRenamed) -> None:
        self._events.append(Level(depth=1))


class DescendLevels(cqrs.EventHandler[Level]):
    """Each level emits the next, down to level 4."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, event: Level) -> None:
        self.journal.entries.append(f"level {event.depth}")
        if event.depth < 4:
            self._events.append(Level(depth=event.depth + 1))


class ProbeTick(cqrs.EventHandler[Tick]):
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    async def handle(self, event: Tick) -> None:
        await self.probe.run()


class PublishRenamed(cqrs.EventHandler[UserRenamed]):
    """Turns the domain event into a notification event for other services."""

    def __init__(self) -> None:
        self._events: list[Any] = []

    async def handle(self, event: UserRenamed) -> None:
        self._events.append(
            Renamed(
                event_name="user_renamed",
                topic="users",
                payload=RenamedPayload(user_id=event.user_id, name=event.name),
                partition_key=str(event.user_id),
                correlation_id="corr-1",
                causation_id="cause-1",
            )
        )


class RecordRenamedNotification(cqrs.EventHandler[Renamed]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: Renamed) -> None:
        self.journal.entries.append(f"notified {event.payload.name}")


class FailingRenamed(cqrs.EventHandler[UserRenamed]):
    async def handle(self, event: UserRenamed) -> None:
        raise RuntimeError(f"first failure for {event.name}")


class OtherFailingRenamed(cqrs.EventHandler[UserRenamed]):
    async def handle(self, event: UserRenamed) -> None:
        raise KeyError("second failure")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def container(journal: Journal) -> BuiltinContainer:
    container = BuiltinContainer()
    container.register_instance(Journal, journal)
    return container


def commands(mapper: RequestMap) -> None:
    mapper.bind(RenameUser, RenameUserHandler)


def queries(mapper: RequestMap) -> None:
    mapper.bind(GetUser, GetUserHandler)


def events_of(*bindings: tuple[type, type]) -> Callable[[EventMap], None]:
    def mapper(events: EventMap) -> None:
        for event_type, handler in bindings:
            events.bind(event_type, handler)

    return mapper


BOTH_MODES = pytest.mark.parametrize(
    ("limit", "concurrent"), [(1, True), (4, False), (4, True)], ids=["1", "off", "4"]
)
"""Run a test with events handled sequentially and with concurrency enabled."""


# --- tests --------------------------------------------------------------------------------------


async def test_send_returns_the_handler_result(container: BuiltinContainer) -> None:
    mediator = bootstrap(di_container=container, queries_mapper=queries)
    assert await mediator.send(GetUser(user_id=7)) == User(user_id=7, name="user-7")
    assert await mediator.send(GetUser(user_id=8)) == User(user_id=8, name="user-8")


async def test_send_returns_none_for_a_command(container: BuiltinContainer) -> None:
    mediator = bootstrap(di_container=container, commands_mapper=commands)
    assert await mediator.send(RenameUser(user_id=1, name="ada")) is None


@BOTH_MODES
async def test_domain_events_are_handled_in_process_before_send_returns(
    container: BuiltinContainer, journal: Journal, limit: int, concurrent: bool
) -> None:
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of(
            (UserRenamed, RecordRenamed), (UserRenamed, AlsoRecordRenamed)
        ),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=concurrent,
    )
    await mediator.send(RenameUser(user_id=1, name="ada"))
    assert journal.entries[0] == "rename ada"
    assert sorted(journal.entries[1:]) == ["also renamed ada", "renamed ada"]


async def test_sequential_handlers_run_in_binding_order(
    container: BuiltinContainer, journal: Journal
) -> None:
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of(
            (UserRenamed, AlsoRecordRenamed), (UserRenamed, RecordRenamed)
        ),
    )
    await mediator.send(RenameUser(user_id=1, name="ada"))
    assert journal.entries == ["rename ada", "also renamed ada", "renamed ada"]


@BOTH_MODES
async def test_follow_up_events_are_handled_several_levels_deep(
    container: BuiltinContainer, journal: Journal, limit: int, concurrent: bool
) -> None:
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of((UserRenamed, StartLevels), (Level, DescendLevels)),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=concurrent,
    )
    await mediator.send(RenameUser(user_id=1, name="ada"))
    assert journal.entries == ["rename ada", "level 1", "level 2", "level 3", "level 4"]


async def run_ticks(
    container: BuiltinContainer, probe: Probe, ticks: int, **options: Any
) -> asyncio.Task[Any]:
    """Send a command emitting `ticks` events and wait until `probe.expected` handlers run."""
    container.register_instance(Probe, probe)
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of((Tick, ProbeTick)),
        **options,
    )
    task = asyncio.ensure_future(mediator.send(RenameUser(user_id=1, name="a", ticks=ticks)))
    await probe.reached.wait()
    for _ in range(20):  # give any handler beyond the limit every chance to start
        await asyncio.sleep(0)
    return task


@pytest.mark.parametrize("limit", [2, 3])
async def test_concurrency_limit_is_honoured(container: BuiltinContainer, limit: int) -> None:
    probe = Probe()
    probe.expected = limit
    task = await run_ticks(container, probe, 6, max_concurrent_event_handlers=limit)
    assert probe.running == limit
    probe.release.set()
    await task
    assert probe.max_running == limit
    assert probe.finished == 6


async def test_limit_above_the_number_of_handlers_runs_them_all_at_once(
    container: BuiltinContainer,
) -> None:
    probe = Probe()
    probe.expected = 3
    task = await run_ticks(container, probe, 3, max_concurrent_event_handlers=10)
    assert probe.running == 3
    probe.release.set()
    await task
    assert probe.finished == 3


@pytest.mark.parametrize(
    "options",
    [
        {"max_concurrent_event_handlers": 5, "concurrent_event_handle_enable": False},
        {"max_concurrent_event_handlers": 1},
    ],
    ids=["disabled", "limit-1"],
)
async def test_events_run_one_at_a_time_when_not_concurrent(
    container: BuiltinContainer, options: dict[str, Any]
) -> None:
    probe = Probe()
    task = await run_ticks(container, probe, 4, **options)
    assert probe.running == 1
    probe.release.set()
    await task
    assert probe.max_running == 1
    assert probe.finished == 4


async def test_notification_events_are_published_with_headers(
    container: BuiltinContainer, journal: Journal
) -> None:
    broker = MemoryMessageBroker()
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of(
            (UserRenamed, PublishRenamed), (Renamed, RecordRenamedNotification)
        ),
        message_broker=broker,
    )
    await mediator.send(RenameUser(user_id=42, name="ada"))

    [message] = broker.messages["users"]
    body = json.loads(message.payload)
    assert body["payload"] == {"user_id": 42, "name": "ada"}
    event = Renamed.from_dict(body)
    headers = message.headers()
    assert headers["event-id"] == str(event.event_id)
    assert headers["event-type"] == "user_renamed"
    assert headers["event-key"] == "42"
    assert headers["correlation-id"] == "corr-1"
    assert headers["causation-id"] == "cause-1"
    assert headers["content-type"] == "application/json"
    assert datetime.datetime.fromisoformat(headers["event-timestamp"]) == event.timestamp
    # bound in the map too, so it is also handled in-process
    assert journal.entries == ["rename ada", "notified ada"]


async def test_notification_without_broker_is_dropped_with_one_warning(
    container: BuiltinContainer, caplog: pytest.LogCaptureFixture
) -> None:
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of((UserRenamed, PublishRenamed)),
    )
    with caplog.at_level(logging.WARNING, logger="cqrs.events"):
        await mediator.send(RenameUser(user_id=1, name="a"))
        await mediator.send(RenameUser(user_id=2, name="b"))
    warnings = [r for r in caplog.records if "no message broker is configured" in r.getMessage()]
    assert len(warnings) == 1
    assert "user_renamed" in warnings[0].getMessage()


@BOTH_MODES
async def test_one_failing_handler_raises_its_exception_after_the_others_ran(
    container: BuiltinContainer, journal: Journal, limit: int, concurrent: bool
) -> None:
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of((UserRenamed, FailingRenamed), (UserRenamed, RecordRenamed)),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=concurrent,
    )
    with pytest.raises(RuntimeError, match="first failure for ada"):
        await mediator.send(RenameUser(user_id=1, name="ada"))
    assert "renamed ada" in journal.entries


@BOTH_MODES
async def test_several_failing_handlers_raise_an_exception_group(
    container: BuiltinContainer, journal: Journal, limit: int, concurrent: bool
) -> None:
    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        domain_events_mapper=events_of(
            (UserRenamed, FailingRenamed),
            (UserRenamed, RecordRenamed),
            (UserRenamed, OtherFailingRenamed),
        ),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=concurrent,
    )
    with pytest.raises(ExceptionGroup) as info:
        await mediator.send(RenameUser(user_id=1, name="ada"))
    group = info.value
    assert "2 event handlers failed" in str(group)
    assert sorted(type(e).__name__ for e in group.exceptions) == ["KeyError", "RuntimeError"]
    assert "renamed ada" in journal.entries


async def test_failing_request_handler_propagates_and_emits_nothing(
    container: BuiltinContainer, journal: Journal
) -> None:
    class Broken(RenameUserHandler):
        async def handle(self, request: RenameUser) -> None:
            await super().handle(request)
            raise LookupError("no such user")

    def mapper(requests: RequestMap) -> None:
        requests.bind(RenameUser, Broken)

    mediator = bootstrap(
        di_container=container,
        commands_mapper=mapper,
        domain_events_mapper=events_of((UserRenamed, RecordRenamed)),
    )
    with pytest.raises(LookupError, match="no such user"):
        await mediator.send(RenameUser(user_id=1, name="ada"))
    assert journal.entries == ["rename ada"]


async def test_each_send_gets_a_fresh_handler(container: BuiltinContainer) -> None:
    built: list[cqrs.RequestHandler[GetUser, int]] = []

    class Counting(cqrs.RequestHandler[GetUser, int]):
        async def handle(self, request: GetUser) -> int:
            built.append(self)
            return len(built)

    mediator = bootstrap(di_container=container, queries_mapper=lambda m: m.bind(GetUser, Counting))
    assert [await mediator.send(GetUser(user_id=i)) for i in range(3)] == [1, 2, 3]
    assert len({id(handler) for handler in built}) == 3


def recording_middleware(name: str, trace: list[str]) -> cqrs.Middleware:
    async def middleware(request: Any, handle: Callable[[Any], Awaitable[Any]]) -> Any:
        trace.append(f"{name} before")
        result = await handle(request)
        trace.append(f"{name} after")
        return result

    return middleware


async def test_middlewares_wrap_send_with_the_first_outermost(
    container: BuiltinContainer, journal: Journal
) -> None:
    trace: list[str] = []

    class Tracing(RecordRenamed):
        async def handle(self, event: UserRenamed) -> None:
            trace.append("event handler")

    mediator = bootstrap(
        di_container=container,
        commands_mapper=commands,
        queries_mapper=queries,
        domain_events_mapper=events_of((UserRenamed, Tracing)),
        middlewares=[recording_middleware("outer", trace), recording_middleware("inner", trace)],
    )
    assert await mediator.send(GetUser(user_id=3)) == User(user_id=3, name="user-3")
    assert trace == ["outer before", "inner before", "inner after", "outer after"]
    trace.clear()
    await mediator.send(RenameUser(user_id=1, name="ada"))
    assert trace == ["outer before", "inner before", "event handler", "inner after", "outer after"]


async def test_middleware_can_replace_request_and_result(container: BuiltinContainer) -> None:
    async def shift(request: Any, handle: Callable[[Any], Awaitable[Any]]) -> Any:
        result = await handle(GetUser(user_id=request.user_id + 100))
        return User(user_id=result.user_id, name=result.name.upper())

    mediator = bootstrap(di_container=container, queries_mapper=queries, middlewares=[shift])
    assert await mediator.send(GetUser(user_id=1)) == User(user_id=101, name="USER-101")


async def test_logging_middleware_logs_success_and_failure(
    container: BuiltinContainer, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(cqrs.RequestHandler[RenameUser, None]):
        async def handle(self, request: RenameUser) -> None:
            raise ValueError("bad name")

    def mapper(requests: RequestMap) -> None:
        requests.bind(GetUser, GetUserHandler)
        requests.bind(RenameUser, Failing)

    mediator = bootstrap(
        di_container=container, queries_mapper=mapper, middlewares=[LoggingMiddleware()]
    )
    with caplog.at_level(logging.DEBUG, logger="cqrs.requests"):
        await mediator.send(GetUser(user_id=1))
        with pytest.raises(ValueError, match="bad name"):
            await mediator.send(RenameUser(user_id=1, name="x"))
    records = [r for r in caplog.records if r.name == "cqrs.requests"]
    assert [r.levelno for r in records] == [logging.DEBUG, logging.ERROR]
    assert records[0].getMessage().startswith("GetUser handled in ")
    assert records[1].getMessage().startswith("RenameUser failed after ")
    assert "bad name" in records[1].getMessage()


async def test_logging_middleware_uses_the_given_logger_and_level(
    container: BuiltinContainer, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("app.requests")
    mediator = bootstrap(
        di_container=container,
        queries_mapper=queries,
        middlewares=[LoggingMiddleware(logger, level=logging.INFO)],
    )
    with caplog.at_level(logging.INFO, logger="app.requests"):
        await mediator.send(GetUser(user_id=1))
    [record] = [r for r in caplog.records if r.name == "app.requests"]
    assert record.levelno == logging.INFO
    assert "GetUser handled in" in record.getMessage()
