"""`AppHarness`: an application's mediators on test adapters, with what they publish recorded.

One line builds it; the same test runs in memory by default and against real services when
`AdapterUrls` name them (`cqrs.testing.pytest_plugin` reads them from options or environment).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from cqrs import _bootstrap
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.brokers.message import Message
from cqrs.brokers.protocol import MessageBroker
from cqrs.consumers.dispatcher import MessageDispatcher, Outcome
from cqrs.events import bootstrap as _events
from cqrs.inbox.memory import MemoryInbox
from cqrs.inbox.protocol import Inbox
from cqrs.interception.interceptor import Interceptor
from cqrs.mediators.event import EventMediator
from cqrs.mediators.request import RequestMediator
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.outbox.protocol import OutboxedEventRepository
from cqrs.outbox.relay import OutboxRelay
from cqrs.protocols.container import Container
from cqrs.requests import bootstrap as _requests
from cqrs.saga import bootstrap as _sagas
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaStorage
from cqrs.testing.clock import ManualClock
from cqrs.testing.published import PublishRecorder
from cqrs.testing.sagas import SagaRun, StepFailures
from cqrs.testing.urls import MEMORY, AdapterUrls

__all__ = ["AppHarness"]


class AppHarness:
    """An application wired for a test: request, event and saga mediators sharing one
    container, broker, outbox, inbox and saga storage, with every publish recorded.

    `outbox`, `broker`, `inbox` and `saga_storage` are registered in the container under their
    protocols (`cqrs.OutboxedEventRepository`, ...), so handlers asking for them get the test
    ones. In-memory adapters use `clock`, a `ManualClock`, for leases and retry times. With
    real URLs, enter it (`async with AppHarness(...) as app`) to connect the broker and create
    the tables; leaving closes what it opened (doing so in memory costs nothing).
    """

    def __init__(
        self,
        *,
        commands_mapper: _bootstrap.RequestMapper | None = None,
        queries_mapper: _bootstrap.RequestMapper | None = None,
        domain_events_mapper: _bootstrap.EventMapper | None = None,
        events_mapper: _bootstrap.EventMapper | None = None,
        sagas_mapper: Callable[[SagaMap], Any] | None = None,
        event_types: Mapping[str, type] | None = None,
        di_container: Any = None,
        urls: AdapterUrls | None = None,
        clock: ManualClock | None = None,
        consumer_name: str = "test-consumer",
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.urls = urls or AdapterUrls()
        self.clock = clock or ManualClock()
        self.published = PublishRecorder()
        """Every message a broker accepted: from handlers, saga steps and the outbox relay."""
        self.step_failures = StepFailures()
        """Failures to inject into saga steps: `app.step_failures.fail(Step, error)`."""
        self.broker: MessageBroker = _make_broker(self.urls.broker)
        self.outbox: OutboxedEventRepository[Any] = _make_outbox(self.urls.outbox, self.clock)
        self.inbox: Inbox[Any] = _make_inbox(self.urls.inbox)
        self.saga_storage: SagaStorage = _make_saga_storage(self.urls.saga_storage, self.clock)
        self.container: Container = _bootstrap.container(di_container)
        for protocol, instance in (
            (OutboxedEventRepository, self.outbox),
            (MessageBroker, self.broker),
            (Inbox, self.inbox),
            (SagaStorage, self.saga_storage),
        ):
            self.container.register_instance(protocol, instance)  # type: ignore[attr-defined]
        chain = (self.published, *interceptors)
        self.mediator: RequestMediator = _requests.bootstrap(
            di_container=self.container,
            commands_mapper=commands_mapper,
            queries_mapper=queries_mapper,
            domain_events_mapper=domain_events_mapper,
            message_broker=self.broker,
            interceptors=chain,
        )
        self.events: EventMediator = _events.bootstrap(
            di_container=self.container,
            events_mapper=events_mapper,
            message_broker=self.broker,
            interceptors=chain,
        )
        self.sagas: SagaMediator = _sagas.bootstrap(
            di_container=self.container,
            sagas_mapper=sagas_mapper,
            domain_events_mapper=domain_events_mapper,
            message_broker=self.broker,
            saga_storage=self.saga_storage,
            compensation_retry_delay=0.0,
            interceptors=(self.step_failures, *chain),
        )
        self.dispatcher = MessageDispatcher(
            self.events,
            dict(event_types or {}),
            inbox=self.inbox,
            consumer_name=consumer_name,
            handler_attempts=1,
            interceptors=interceptors,
        )
        """The consumer side: messages given to `deliver` go through it, as a Kafka or
        RabbitMQ consumer hands them over (one attempt, so a failing handler dead-letters)."""

    async def __aenter__(self) -> AppHarness:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect the broker and create the outbox, inbox and saga tables of real adapters."""
        await _call(self.broker, "connect")
        for adapter in (self.outbox, self.inbox, self.saga_storage):
            await _call(adapter, "create_schema")

    async def close(self) -> None:
        """Close what `start` opened (the broker, database engines)."""
        for adapter in (self.saga_storage, self.inbox, self.outbox, self.broker):
            await _call(adapter, "close")

    async def send(self, request: Any) -> Any:
        """Send a command or query through the request mediator; returns its response."""
        return await self.mediator.send(request)

    async def relay(self) -> int:
        """Publish what the outbox holds and is due (as a relay worker would), until idle;
        returns how many rows were claimed. Rows waiting for a retry time come due when
        `clock.advance` passes it."""
        relay = OutboxRelay(
            self.outbox,
            self.broker,
            lease_seconds=30.0,
            clock=self.clock,
            interceptors=(self.published,),
        )
        return await relay.run_until_idle()

    async def deliver(self, message: Message | Any, *, times: int = 1) -> list[Outcome]:
        """Hand `message` (a `cqrs.Message`, or a notification event to serialize as one) to the
        consumer side `times` times, as a broker delivers it: rebuilt from its topic, payload and
        headers, then through the `MessageDispatcher` with the inbox. Redelivering (`times=2`)
        shows whether the handlers' effect happens once. Returns each delivery's outcome."""
        if not isinstance(message, Message):
            self.dispatcher.event_types.setdefault(message.event_name, type(message))
            message = Message.from_event(message)
        received = Message.from_headers(message.topic, message.payload, message.headers())
        return [await self.dispatcher.dispatch(received) for _ in range(times)]

    async def deliver_published(self, topic: str | None = None) -> list[Outcome]:
        """Deliver to the consumer side, once each, the recorded messages (of `topic`, if
        given): what this service published, consumed back as another service would."""
        chosen = [m for m in self.published.messages if topic is None or m.topic == topic]
        outcomes: list[Outcome] = []
        for message in chosen:
            outcomes += await self.deliver(message)
        return outcomes

    def saga(self, context: Any, saga_id: Any = None) -> SagaRun:
        """A run of the saga bound to `context`'s type, advanced by `await run.step()`."""
        return SagaRun(self.sagas, context, saga_id)


async def _call(adapter: object, method: str) -> None:
    """Await `adapter.method()` when the adapter has it (memory adapters mostly do not)."""
    bound = getattr(adapter, method, None)
    if bound is None:
        return
    result = bound()
    if inspect.isawaitable(result):
        await result


def _make_broker(url: str) -> MessageBroker:
    if url == MEMORY:
        return MemoryMessageBroker()
    from cqrs.plugins.resolve import make_message_broker

    return make_message_broker(url)


def _make_outbox(url: str, clock: ManualClock) -> OutboxedEventRepository[Any]:
    if url == MEMORY:
        return MemoryOutboxedEventRepository(clock=clock)
    from cqrs.plugins.resolve import make_outbox_repository

    return make_outbox_repository(url)


def _make_inbox(url: str) -> Inbox[Any]:
    if url == MEMORY:
        return MemoryInbox()
    from cqrs.plugins.resolve import make_inbox

    return make_inbox(url)


def _make_saga_storage(url: str, clock: ManualClock) -> SagaStorage:
    if url == MEMORY:
        return MemorySagaStorage(clock=clock)
    from cqrs.plugins.resolve import make_saga_storage

    return make_saga_storage(url)
