"""Interceptors on every path: requests, streams, event handlers, saga steps, publishes."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.events.bootstrap import bootstrap as event_bootstrap
from cqrs.interception import (
    Interceptor,
    PublishCall,
    SagaRunCall,
    SagaStepCall,
    register,
    registered,
    unregister,
)
from cqrs.outbox import OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming
from cqrs.saga.bootstrap import bootstrap as saga_bootstrap
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage


class Journal(Interceptor):
    """Records every interception, tagged with its name, and passes everything through."""

    def __init__(self, name: str, log: list[tuple[str, ...]]) -> None:
        self.name = name
        self.log = log

    async def intercept_request(
        self, request: Any, proceed: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        self.log.append((self.name, "request", type(request).__name__))
        result = await proceed(request)
        self.log.append((self.name, "request done", type(result).__name__))
        return result

    async def intercept_stream(
        self, request: Any, proceed: Callable[[Any], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        self.log.append((self.name, "stream", type(request).__name__))
        try:
            async for item in proceed(request):
                self.log.append((self.name, "item", str(item.value)))
                yield item
        finally:
            self.log.append((self.name, "stream closed"))

    async def intercept_event(
        self, event: Any, handler: type, proceed: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Sequence[Any]:
        follow_ups = await proceed(event)
        self.log.append((self.name, "event", type(event).__name__, handler.__name__))
        return follow_ups

    async def intercept_saga_step(
        self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        self.log.append((self.name, step.action, step.step_name, str(step.recovering)))
        return await proceed()

    async def intercept_publish(
        self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
    ) -> None:
        self.log.append((self.name, "publish", call.source, str(len(call.messages))))
        tagged = [
            dataclasses.replace(m, extra_headers={**m.extra_headers, "x-seen-by": self.name})
            for m in call.messages
        ]
        await proceed(dataclasses.replace(call, messages=tagged))


@pytest.fixture
def log() -> list[tuple[str, ...]]:
    return []


@contextlib.contextmanager
def registered_globally(interceptor: Interceptor) -> Iterator[None]:
    register(interceptor)
    try:
        yield
    finally:
        unregister(interceptor)


# --- requests and events ----------------------------------------------------------------------


class Greeted(cqrs.DomainEvent):
    name: str


class Announced(cqrs.NotificationEvent[Greeted]):
    pass


class Greet(cqrs.Request):
    name: str


class Greeting(cqrs.Response):
    text: str


class GreetHandler(cqrs.RequestHandler[Greet, Greeting]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, request: Greet) -> Greeting:
        self._events.append(Greeted(name=request.name))
        return Greeting(text=f"hello {request.name}")


class OnGreeted(cqrs.EventHandler[Greeted]):
    seen: list[str] = []  # noqa: RUF012

    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, event: Greeted) -> None:
        OnGreeted.seen.append(event.name)
        self._events.append(
            cqrs.NotificationEvent[Greeted](event_name="Greeted", topic="greetings", payload=event)
        )


def greeter(interceptors: Sequence[Interceptor], broker: MemoryMessageBroker) -> Any:
    return bootstrap(
        commands_mapper=lambda m: m.bind(Greet, GreetHandler),
        domain_events_mapper=lambda m: m.bind(Greeted, OnGreeted),
        message_broker=broker,
        interceptors=interceptors,
    )


async def test_a_request_goes_through_registered_then_given_interceptors_then_middlewares(
    log: list[tuple[str, ...]],
) -> None:
    class Recording:
        async def __call__(self, request: Any, handle: Any) -> Any:
            log.append(("middleware", "request", type(request).__name__))
            return await handle(request)

    mediator = bootstrap(
        commands_mapper=lambda m: m.bind(Greet, GreetHandler),
        middlewares=[Recording()],
        interceptors=[Journal("given", log)],
    )
    with registered_globally(Journal("global", log)):
        result = await mediator.send(Greet(name="ada"))
    assert result == Greeting(text="hello ada")
    assert [entry[:2] for entry in log] == [
        ("global", "request"),
        ("given", "request"),
        ("middleware", "request"),
        ("given", "request done"),
        ("global", "request done"),
    ]


async def test_event_handlers_and_publishes_are_intercepted(log: list[tuple[str, ...]]) -> None:
    broker = MemoryMessageBroker()
    await greeter([Journal("j", log)], broker).send(Greet(name="bob"))
    assert ("j", "event", "Greeted", "OnGreeted") in log
    assert ("j", "publish", "emitter", "1") in log
    [published] = broker.messages["greetings"]
    assert published.headers()["x-seen-by"] == "j", "the interceptor's change reached the broker"


async def test_registering_applies_to_mediators_built_before(log: list[tuple[str, ...]]) -> None:
    broker = MemoryMessageBroker()
    mediator = greeter([], broker)
    await mediator.send(Greet(name="before"))
    assert log == []
    journal = Journal("late", log)
    with registered_globally(journal):
        assert journal in registered()
        await mediator.send(Greet(name="during"))
    assert journal not in registered()
    seen = len(log)
    await mediator.send(Greet(name="after"))
    assert seen > 0
    assert len(log) == seen, "unregistered: nothing is intercepted any more"
    assert broker.messages["greetings"][1].headers()["x-seen-by"] == "late"
    assert "x-seen-by" not in broker.messages["greetings"][2].headers()


async def test_an_interceptor_of_one_path_leaves_the_others_alone() -> None:
    calls: list[str] = []

    class OnlyPublishes(Interceptor):
        async def intercept_publish(
            self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
        ) -> None:
            calls.append(call.source)
            await proceed(call)

    broker = MemoryMessageBroker()
    await greeter([OnlyPublishes()], broker).send(Greet(name="cy"))
    assert calls == ["emitter"]


async def test_a_consumed_event_is_intercepted(log: list[tuple[str, ...]]) -> None:
    mediator = event_bootstrap(
        events_mapper=lambda m: m.bind(Greeted, OnGreeted),
        message_broker=MemoryMessageBroker(),
        interceptors=[Journal("consumer", log)],
    )
    await mediator.send(Greeted(name="dee"))
    assert ("consumer", "event", "Greeted", "OnGreeted") in log


def test_only_interceptors_are_accepted() -> None:
    with pytest.raises(TypeError, match=r"is not a cqrs\.interception\.Interceptor"):
        bootstrap(interceptors=[object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"is not a cqrs\.interception\.Interceptor"):
        register(object())  # type: ignore[arg-type]


# --- streams ------------------------------------------------------------------------------------


class Count(cqrs.Request):
    up_to: int


class Number(cqrs.Response):
    value: int


class CountHandler(cqrs.StreamingRequestHandler[Count, Number]):
    closed = False

    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: Count) -> AsyncIterator[Number]:  # type: ignore[override]
        try:
            for value in range(request.up_to):
                yield Number(value=value)
        finally:
            CountHandler.closed = True


async def test_a_stream_is_intercepted_item_by_item_and_closing_early_closes_the_handler(
    log: list[tuple[str, ...]],
) -> None:
    CountHandler.closed = False
    mediator = bootstrap_streaming(
        queries_mapper=lambda m: m.bind(Count, CountHandler), interceptors=[Journal("s", log)]
    )
    async with contextlib.aclosing(mediator.stream(Count(up_to=10))) as numbers:
        async for number in numbers:
            if number.value == 1:
                break
    assert log == [
        ("s", "stream", "Count"),
        ("s", "item", "0"),
        ("s", "item", "1"),
        ("s", "stream closed"),
    ]
    assert CountHandler.closed


# --- sagas --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Trip(SagaContext):
    trip_id: str
    booked: bool = False


class Book(SagaStepHandler[Trip, None]):
    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        context.booked = True
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        context.booked = False


class Pay(SagaStepHandler[Trip, None]):
    fail = False

    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        if Pay.fail:
            raise RuntimeError("card declined")
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        return None


class TripSaga(Saga[Trip]):
    steps = [Book, Pay]  # noqa: RUF012


async def test_saga_steps_and_compensations_are_intercepted(log: list[tuple[str, ...]]) -> None:
    Pay.fail = True
    try:
        mediator = saga_bootstrap(
            sagas_mapper=lambda m: m.bind(Trip, TripSaga),
            interceptors=[Journal("saga", log)],
            compensation_retry_delay=0,
        )
        with pytest.raises(RuntimeError, match="card declined"):
            await mediator.execute(Trip(trip_id="t1"))
    finally:
        Pay.fail = False
    assert log == [
        ("saga", "act", "Book", "False"),
        ("saga", "act", "Pay", "False"),
        ("saga", "compensate", "Book", "False"),
    ]


async def test_a_recovered_saga_step_is_intercepted_as_recovering(
    log: list[tuple[str, ...]],
) -> None:
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    await storage.create_saga(
        saga_id, TripSaga.saga_name(), Trip(trip_id="t2").to_dict(), owner="gone", lease_seconds=0
    )
    result = await recover_saga(
        TripSaga, saga_id, Trip, storage=storage, interceptors=[Journal("rec", log)]
    )
    assert result.status is SagaStatus.COMPLETED
    assert log == [("rec", "act", "Book", "True"), ("rec", "act", "Pay", "True")]


async def test_a_saga_interceptor_that_skips_the_step_is_an_error() -> None:
    class Skipping(Interceptor):
        async def intercept_saga_step(
            self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
        ) -> Any:
            return None

    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), interceptors=[Skipping()]
    )
    with pytest.raises(RuntimeError, match="must await proceed"):
        await mediator.execute(Trip(trip_id="t3"))


# --- the outbox relay ---------------------------------------------------------------------------


async def test_the_relay_publishes_through_interceptors(log: list[tuple[str, ...]]) -> None:
    outbox = MemoryOutboxedEventRepository()
    async with outbox as session:
        for name in ("a", "b", "c"):
            outbox.add(
                session,
                cqrs.NotificationEvent[Greeted](
                    event_name="Greeted", topic="greetings", payload=Greeted(name=name)
                ),
            )
        await outbox.commit(session)
    broker = MemoryMessageBroker()
    relay = OutboxRelay(outbox, broker, interceptors=[Journal("relay", log)])
    assert await relay.run_until_idle() == 3
    assert [entry[:3] for entry in log] == [("relay", "publish", "relay")] * len(log)
    assert sum(int(entry[3]) for entry in log) == 3
    assert {m.headers()["x-seen-by"] for m in broker.messages["greetings"]} == {"relay"}


# --- consumed messages --------------------------------------------------------------------------

Note = cqrs.NotificationEvent[Greeted]


class Noted(cqrs.EventHandler[Note]):
    async def handle(self, event: Any) -> None:
        pass


def note(name: str) -> Any:
    return Note(event_name="Greeted", topic="greetings", payload=Greeted(name=name))


async def test_a_consumed_message_is_intercepted_with_its_outcome(
    log: list[tuple[str, ...]],
) -> None:
    from cqrs.consumers import MessageDispatcher, Verdict

    outcomes: list[Any] = []

    class Watch(Interceptor):
        async def intercept_consume(
            self, message: cqrs.Message, proceed: Callable[[cqrs.Message], Awaitable[Any]]
        ) -> Any:
            outcome = await proceed(message)
            outcomes.append((message.message_name, outcome.verdict))
            return outcome

    mediator = event_bootstrap(events_mapper=lambda m: m.bind(Note, Noted))
    dispatcher = MessageDispatcher(mediator, {"Greeted": Note}, interceptors=[Watch()])
    good = cqrs.Message.from_event(note("eve"))
    bad = dataclasses.replace(good, payload=b"{not json")
    assert (await dispatcher.dispatch(good)).verdict is Verdict.HANDLED
    assert (await dispatcher.dispatch(bad)).verdict is Verdict.DEAD_LETTER
    assert [verdict for _, verdict in outcomes] == [Verdict.HANDLED, Verdict.DEAD_LETTER]


async def test_a_failing_consume_interceptor_leaves_the_message_for_redelivery() -> None:
    from cqrs.consumers import MessageDispatcher, Verdict

    class Broken(Interceptor):
        async def intercept_consume(self, message: cqrs.Message, proceed: Any) -> Any:
            raise RuntimeError("tracer down")

    mediator = event_bootstrap(events_mapper=lambda m: m.bind(Note, Noted))
    dispatcher = MessageDispatcher(mediator, {"Greeted": Note}, interceptors=[Broken()])
    outcome = await dispatcher.dispatch(cqrs.Message.from_event(note("fay")))
    assert outcome.verdict is Verdict.DEFERRED


class SagaRuns(Interceptor):
    """Records each saga run it wraps and the step results it passes on."""

    def __init__(self) -> None:
        self.log: list[tuple[str, ...]] = []

    async def intercept_saga(
        self, saga: SagaRunCall, proceed: Callable[[SagaRunCall], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        self.log.append(("run", saga.saga_name, str(saga.recovering), str(saga.trace)))
        try:
            async for result in proceed(saga):
                self.log.append(("step", result.step_type.__name__))
                yield result
        finally:
            self.log.append(("end", saga.saga_name))


async def test_a_saga_run_and_a_recovery_are_intercepted_around_their_steps() -> None:
    runs = SagaRuns()
    storage = MemorySagaStorage()
    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), interceptors=[runs], saga_storage=storage
    )
    await mediator.execute(Trip(trip_id="t3"))
    saga_id = uuid.uuid4()
    await storage.create_saga(
        saga_id,
        TripSaga.saga_name(),
        Trip(trip_id="t4").to_dict(),
        owner="gone",
        lease_seconds=0,
        trace={"traceparent": "carried"},
    )
    await recover_saga(TripSaga, saga_id, Trip, storage=storage, interceptors=[runs])
    assert runs.log == [
        ("run", "TripSaga", "False", "None"),
        ("step", "Book"),
        ("step", "Pay"),
        ("end", "TripSaga"),
        ("run", "TripSaga", "True", "{'traceparent': 'carried'}"),
        ("step", "Book"),
        ("step", "Pay"),
        ("end", "TripSaga"),
    ]


async def test_leaving_an_intercepted_saga_early_closes_the_run() -> None:
    runs = SagaRuns()
    storage = MemorySagaStorage()
    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), interceptors=[runs], saga_storage=storage
    )
    saga_id = uuid.uuid4()
    stream = mediator.stream(Trip(trip_id="t5"), saga_id)
    async for _ in stream:
        break
    await stream.aclose()
    assert runs.log[-1] == ("end", "TripSaga")
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.lease_owner is None, "the stopped saga's lease is released for recovery"
