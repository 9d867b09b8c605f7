"""The bootstrap functions: seed parameter names, startup hooks, brokers given by URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import cqrs
from cqrs import (
    BuiltinContainer,
    DevnullMessageBroker,
    EventMediator,
    MemoryMessageBroker,
    NotificationEvent,
    RequestMediator,
    StreamingRequestMediator,
)
from cqrs.events.map import EventMap
from cqrs.plugins import hookimpl, new_plugin_manager, set_plugin_manager
from cqrs.requests.map import RequestMap


class Ping(cqrs.Request):
    text: str


class Pong(cqrs.Response):
    text: str


class Count(cqrs.Request):
    upto: int


class PingPayload(cqrs.Response):
    text: str


Pinged = NotificationEvent[PingPayload]


class Journal:
    def __init__(self) -> None:
        self.entries: list[str] = []


class PingHandler(cqrs.RequestHandler[Ping, Pong]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, request: Ping) -> Pong:
        self.journal.entries.append(f"ping {request.text}")
        self._events.append(
            Pinged(event_name="pinged", topic="pings", payload=PingPayload(text=request.text))
        )
        return Pong(text=request.text)


class CountHandler(cqrs.StreamingRequestHandler[Count, int]):
    async def handle(self, request: Count) -> Any:
        for i in range(request.upto):
            yield i


class OnPinged(cqrs.EventHandler[Pinged]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: Pinged) -> None:
        self.journal.entries.append(f"pinged {event.payload.text}")


def commands(mapper: RequestMap) -> None:
    mapper.bind(Ping, PingHandler)


def queries(mapper: RequestMap) -> None:
    mapper.bind(Count, CountHandler)


def events(mapper: EventMap) -> None:
    mapper.bind(Pinged, OnPinged)


class RecordingBroker:
    """A broker a third-party plugin provides for `recording://` URLs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[cqrs.Message] = []

    async def send_message(self, message: cqrs.Message) -> None:
        self.sent.append(message)

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RecordingPlugin:
    @hookimpl
    def cqrs_make_message_broker(self, url: str) -> RecordingBroker | None:
        return RecordingBroker(url) if url.startswith("recording://") else None

    @hookimpl
    def cqrs_list_schemes(self) -> dict[str, list[str]]:
        return {"message_broker": ["recording"]}


@pytest.fixture(autouse=True)
def plugin_manager() -> Iterator[cqrs.plugins.PluginManager]:
    """A fresh manager with only the built-in plugin, so installed plugins do not leak in."""
    manager = new_plugin_manager(autoload=False)
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def container(journal: Journal) -> BuiltinContainer:
    container = BuiltinContainer()
    container.register_instance(Journal, journal)
    return container


def broker_of(mediator: RequestMediator) -> Any:
    return mediator.event_processor.emitter.message_broker


async def test_seed_parameter_names(container: BuiltinContainer, journal: Journal) -> None:
    broker = MemoryMessageBroker()
    mediator = cqrs.bootstrap.bootstrap(
        di_container=container,
        commands_mapper=commands,
        queries_mapper=lambda m: m.bind(Count, CountHandler),
        domain_events_mapper=events,
        message_broker=broker,
        middlewares=[],
        on_startup=[],
        max_concurrent_event_handlers=2,
        concurrent_event_handle_enable=True,
    )
    assert isinstance(mediator, RequestMediator)
    assert mediator.event_processor.max_concurrent_event_handlers == 2
    assert mediator.event_processor.concurrent
    assert await mediator.send(Ping(text="a")) == Pong(text="a")
    assert journal.entries == ["ping a", "pinged a"]
    assert len(broker.messages["pings"]) == 1


def test_request_bootstrap_paths_are_one_function() -> None:
    from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming

    assert cqrs.bootstrap.bootstrap is bootstrap
    assert cqrs.bootstrap.bootstrap_streaming is bootstrap_streaming


def test_on_startup_hooks_run_once_in_order_before_the_mediator_exists() -> None:
    calls: list[str] = []
    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=commands,
        on_startup=[lambda: calls.append("first"), lambda: calls.append("second")],
    )
    assert calls == ["first", "second"]
    assert isinstance(mediator, RequestMediator)


def test_failing_startup_hook_stops_bootstrap() -> None:
    def broken() -> None:
        raise ConnectionError("database unreachable")

    with pytest.raises(ConnectionError, match="database unreachable"):
        cqrs.bootstrap.bootstrap(on_startup=[broken])


async def test_memory_url_builds_a_memory_broker(container: BuiltinContainer) -> None:
    mediator = cqrs.bootstrap.bootstrap(
        di_container=container, commands_mapper=commands, message_broker="memory://"
    )
    broker = broker_of(mediator)
    assert isinstance(broker, MemoryMessageBroker)
    await mediator.send(Ping(text="hi"))
    [message] = broker.messages["pings"]
    assert json.loads(message.payload)["payload"] == {"text": "hi"}


def test_devnull_url_builds_a_devnull_broker() -> None:
    mediator = cqrs.bootstrap.bootstrap(message_broker="devnull://")
    assert isinstance(broker_of(mediator), DevnullMessageBroker)


def test_scheme_is_case_insensitive() -> None:
    assert isinstance(
        broker_of(cqrs.bootstrap.bootstrap(message_broker="MEMORY://")), MemoryMessageBroker
    )


async def test_plugin_registered_in_process_serves_its_scheme(
    plugin_manager: cqrs.plugins.PluginManager, container: BuiltinContainer
) -> None:
    plugin_manager.register(RecordingPlugin(), name="recording")
    mediator = cqrs.bootstrap.bootstrap(
        di_container=container, commands_mapper=commands, message_broker="recording://host/x"
    )
    broker = broker_of(mediator)
    assert isinstance(broker, RecordingBroker)
    assert broker.url == "recording://host/x"
    await mediator.send(Ping(text="p"))
    assert [m.message_name for m in broker.sent] == ["pinged"]


def test_without_container_a_builtin_one_is_used() -> None:
    mediator = cqrs.bootstrap.bootstrap(queries_mapper=lambda m: m.bind(Ping, PingHandler))
    assert isinstance(mediator, RequestMediator)


async def test_streaming_bootstrap(container: BuiltinContainer) -> None:
    mediator = cqrs.bootstrap.bootstrap_streaming(
        di_container=container,
        queries_mapper=queries,
        message_broker="memory://",
        on_startup=[lambda: None],
        max_concurrent_event_handlers=3,
        concurrent_event_handle_enable=False,
    )
    assert isinstance(mediator, StreamingRequestMediator)
    assert [i async for i in mediator.stream(Count(upto=3))] == [0, 1, 2]


async def test_event_bootstrap(container: BuiltinContainer, journal: Journal) -> None:
    started: list[bool] = []
    mediator = cqrs.events.bootstrap.bootstrap(
        di_container=container,
        events_mapper=events,
        message_broker="memory://",
        on_startup=[lambda: started.append(True)],
        max_concurrent_event_handlers=2,
        concurrent_event_handle_enable=True,
    )
    assert isinstance(mediator, EventMediator)
    assert started == [True]
    await mediator.send(Pinged(event_name="pinged", topic="pings", payload=PingPayload(text="x")))
    assert journal.entries == ["pinged x"]
    assert cqrs.bootstrap.bootstrap_events is cqrs.events.bootstrap.bootstrap
