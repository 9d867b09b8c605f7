"""Spans and trace context on every path, read back with the SDK's in-memory exporter."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.consumers.dispatcher import MessageDispatcher, Verdict
from cqrs.events.bootstrap import bootstrap as event_bootstrap
from cqrs.inbox.memory import MemoryInbox
from cqrs.interception import registered
from cqrs.outbox import OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming
from cqrs.saga.bootstrap import bootstrap as saga_bootstrap
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs_opentelemetry import CqrsInstrumentor, TraceContextFilter


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = CqrsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


class Shipped(cqrs.NotificationEvent[dict[str, Any]]):
    pass


def shipped(n: int) -> Shipped:
    return Shipped(event_name="Shipped", topic="orders", payload={"n": n}, partition_key=f"o-{n}")


class Ship(cqrs.Request):
    n: int


class Publishing(cqrs.RequestHandler[Ship, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, request: Ship) -> None:
        self._events.append(shipped(request.n))


class Outboxing(cqrs.RequestHandler[Ship, None]):
    outbox: MemoryOutboxedEventRepository

    async def handle(self, request: Ship) -> None:
        async with self.outbox as session:
            self.outbox.add(session, shipped(request.n))
            await self.outbox.commit(session)


class Received(cqrs.EventHandler[Shipped]):
    seen: list[str] = []  # noqa: RUF012

    async def handle(self, event: Shipped) -> None:
        Received.seen.append(str(event.event_id))


def test_instrument_registers_its_interceptors_once_and_uninstrument_removes_them() -> None:
    before = registered()
    instrumentor = CqrsInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider())
    instrumentor.instrument()
    try:
        assert len(registered()) == len(before) + 2
        assert instrumentor.interceptor in registered()
        assert instrumentor.metrics in registered()
    finally:
        instrumentor.uninstrument()
    assert registered() == before


async def test_a_send_publishing_an_event_is_a_send_span_with_a_producer_child(
    spans: InMemorySpanExporter,
) -> None:
    broker = MemoryMessageBroker()
    mediator = bootstrap(commands_mapper=lambda m: m.bind(Ship, Publishing), message_broker=broker)
    await mediator.send(Ship(n=1))
    found = by_name(spans)
    send, publish = found["send Ship"], found["send orders"]
    assert publish.parent is not None
    assert publish.parent.span_id == send.context.span_id
    assert publish.kind is SpanKind.PRODUCER
    assert publish.attributes is not None
    assert publish.attributes["messaging.operation.type"] == "send"
    assert publish.attributes["messaging.destination.name"] == "orders"
    message = broker.messages["orders"][0]
    assert publish.attributes["messaging.message.id"] == str(message.message_id)
    assert publish.attributes["messaging.message.conversation_id"] == message.correlation_id
    assert send.attributes is not None
    assert send.attributes["cqrs.request.id"] == message.causation_id
    trace_id, span_id = f"{send.context.trace_id:032x}", f"{publish.context.span_id:016x}"
    assert message.extra_headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")


async def test_an_event_through_the_outbox_and_a_consumer_joins_the_request_trace(
    spans: InMemorySpanExporter,
) -> None:
    outbox = MemoryOutboxedEventRepository()
    Outboxing.outbox = outbox
    broker = MemoryMessageBroker()
    mediator = bootstrap(commands_mapper=lambda m: m.bind(Ship, Outboxing))
    await mediator.send(Ship(n=1))
    await mediator.send(Ship(n=2))
    await OutboxRelay(outbox, broker, batch_size=10).run_until_idle()
    consumer = MessageDispatcher(
        event_bootstrap(events_mapper=lambda m: m.bind(Shipped, Received)),
        {"Shipped": Shipped},
    )
    for message in broker.messages["orders"]:
        assert (await consumer.dispatch(message)).verdict is Verdict.HANDLED

    finished = spans.get_finished_spans()
    sends = [s for s in finished if s.name == "send Ship"]
    creates = [s for s in finished if s.name == "create orders"]
    relays = [s for s in finished if s.name == "send orders"]
    processes = [s for s in finished if s.name == "process orders"]
    handles = [s for s in finished if s.name == "handle Shipped"]
    assert len(sends) == len(creates) == len(processes) == len(handles) == 2
    for send, create, process, handle in zip(sends, creates, processes, handles, strict=True):
        assert create.parent is not None
        assert create.parent.span_id == send.context.span_id
        assert create.kind is SpanKind.PRODUCER
        assert create.attributes is not None
        assert create.attributes["messaging.operation.type"] == "create"
        assert process.parent is not None
        assert process.parent.span_id == create.context.span_id
        assert process.context.trace_id == send.context.trace_id
        assert process.kind is SpanKind.CONSUMER
        assert process.attributes is not None
        assert process.attributes["cqrs.consumer.outcome"] == "handled"
        assert handle.parent is not None
        assert handle.parent.span_id == process.context.span_id
    # The memory broker has no send_many: the relay hands it one message at a time.
    for relay, create in zip(relays, creates, strict=True):
        assert relay.parent is None
        assert relay.kind is SpanKind.PRODUCER
        assert relay.attributes is not None
        assert relay.attributes["messaging.operation.name"] == "relay publish"
        assert [link.context.span_id for link in relay.links] == [create.context.span_id]


async def test_a_duplicate_and_a_dead_letter_are_marked_on_the_process_span(
    spans: InMemorySpanExporter,
) -> None:
    consumer = MessageDispatcher(
        event_bootstrap(events_mapper=lambda m: m.bind(Shipped, Received)),
        {"Shipped": Shipped},
        inbox=MemoryInbox(),
    )
    message = cqrs.Message.from_event(shipped(1))
    await consumer.dispatch(message)
    await consumer.dispatch(message)
    await consumer.dispatch(dataclasses.replace(message, payload=b"not json"))
    first, duplicate, dead = [s for s in spans.get_finished_spans() if s.name == "process orders"]
    assert first.status.status_code is StatusCode.UNSET
    assert [e.name for e in duplicate.events] == ["inbox duplicate skipped"]
    assert dead.status.status_code is StatusCode.ERROR
    assert [e.name for e in dead.events] == ["dead-lettered"]
    assert dead.attributes is not None
    assert dead.attributes["cqrs.consumer.outcome"] == "dead_letter"


@dataclasses.dataclass
class Trip(SagaContext):
    trip_id: str


class Book(SagaStepHandler[Trip, None]):
    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        return None


class Pay(SagaStepHandler[Trip, None]):
    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        raise RuntimeError("card declined")

    async def compensate(self, context: Trip) -> None:
        return None


class TripSaga(Saga[Trip]):
    steps = [Book, Pay]  # noqa: RUF012


async def test_a_saga_is_a_span_over_its_steps_each_a_span_with_the_saga_id(
    spans: InMemorySpanExporter,
) -> None:
    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), compensation_retry_delay=0
    )
    with pytest.raises(RuntimeError, match="card declined"):
        await mediator.execute(Trip(trip_id="t1"))
    finished = spans.get_finished_spans()
    saga = by_name(spans)["saga TripSaga"]
    steps = [s for s in finished if s.name.startswith("saga TripSaga ")]
    assert [s.name for s in steps] == [
        "saga TripSaga act Book",
        "saga TripSaga act Pay",
        "saga TripSaga compensate Book",
    ]
    assert all(child_of(step, saga) for step in steps)
    ids = {s.attributes["cqrs.saga.id"] for s in [saga, *steps] if s.attributes is not None}
    assert len(ids) == 1
    assert steps[1].status.status_code is StatusCode.ERROR
    assert saga.status.status_code is StatusCode.ERROR


class Count(cqrs.Request):
    to: int


class Counting(cqrs.StreamingRequestHandler[Count, int]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: Count) -> AsyncIterator[int]:
        for n in range(request.to):
            self._events.append(shipped(n))
            yield n


async def test_a_stream_is_one_span_over_its_items(spans: InMemorySpanExporter) -> None:
    broker = MemoryMessageBroker()
    mediator = bootstrap_streaming(
        commands_mapper=lambda m: m.bind(Count, Counting), message_broker=broker
    )
    assert [n async for n in mediator.stream(Count(to=3))] == [0, 1, 2]
    stream = by_name(spans)["stream Count"]
    assert stream.attributes is not None
    assert stream.attributes["cqrs.stream.items"] == 3


async def test_log_records_inside_a_send_name_their_trace_and_correlation(
    spans: InMemorySpanExporter,
) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    class Logging(cqrs.RequestHandler[Ship, None]):
        async def handle(self, request: Ship) -> None:
            logging.getLogger("app").warning("shipping %s", request.n)

    handler = Keep()
    handler.addFilter(TraceContextFilter())
    logging.getLogger("app").addHandler(handler)
    try:
        await bootstrap(commands_mapper=lambda m: m.bind(Ship, Logging)).send(Ship(n=3))
        logging.getLogger("app").warning("outside")
    finally:
        logging.getLogger("app").removeHandler(handler)
    inside, outside = records
    send = by_name(spans)["send Ship"]
    assert inside.trace_id == f"{send.context.trace_id:032x}"  # type: ignore[attr-defined]
    assert inside.span_id == f"{send.context.span_id:016x}"  # type: ignore[attr-defined]
    assert send.attributes is not None
    assert inside.correlation_id == send.attributes["messaging.message.conversation_id"]  # type: ignore[attr-defined]
    assert (outside.trace_id, outside.correlation_id) == ("", "")  # type: ignore[attr-defined]


class BatchBroker(MemoryMessageBroker):
    messaging_system = "memory"

    async def send_many(self, messages: list[cqrs.Message]) -> None:
        for message in messages:
            await self.send_message(message)


async def test_a_relay_batch_is_one_root_send_span_linking_every_creation(
    spans: InMemorySpanExporter,
) -> None:
    outbox = MemoryOutboxedEventRepository()
    Outboxing.outbox = outbox
    mediator = bootstrap(commands_mapper=lambda m: m.bind(Ship, Outboxing))
    for n in range(3):
        await mediator.send(Ship(n=n))
    await OutboxRelay(outbox, BatchBroker(), batch_size=10).run_until_idle()
    finished = spans.get_finished_spans()
    creates = [s for s in finished if s.name == "create orders"]
    (relay,) = [s for s in finished if s.name == "send orders"]
    assert relay.parent is None
    assert relay.attributes is not None
    assert relay.attributes["messaging.batch.message_count"] == 3
    assert relay.attributes["messaging.system"] == "memory"
    assert [link.context.span_id for link in relay.links] == [c.context.span_id for c in creates]
    assert len({c.context.trace_id for c in creates}) == 3


async def test_a_settled_relay_batch_is_a_span_linking_what_it_published(
    spans: InMemorySpanExporter,
) -> None:
    outbox = MemoryOutboxedEventRepository()
    Outboxing.outbox = outbox
    mediator = bootstrap(commands_mapper=lambda m: m.bind(Ship, Outboxing))
    for n in range(3):
        await mediator.send(Ship(n=n))
    await OutboxRelay(outbox, BatchBroker(), batch_size=10).run_until_idle()
    finished = spans.get_finished_spans()
    creates = {s.context.span_id for s in finished if s.name == "create orders"}
    (batch,) = [s for s in finished if s.name == "relay batch"]
    (send,) = [s for s in finished if s.name == "send orders"]
    assert batch.parent is None
    assert {link.context.span_id for link in batch.links} == creates
    assert batch.attributes is not None
    assert batch.attributes["cqrs.relay.published"] == 3
    assert batch.start_time is not None
    assert batch.end_time is not None
    assert send.start_time is not None
    assert send.end_time is not None
    assert batch.start_time <= send.start_time <= send.end_time <= batch.end_time


class Confirm(SagaStepHandler[Trip, None]):
    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        return None


class ConfirmSaga(Saga[Trip]):
    steps = [Book, Confirm]  # noqa: RUF012


class StartTrip(cqrs.Request):
    trip_id: str


async def test_a_recovered_saga_continues_the_trace_of_the_request_that_started_it(
    spans: InMemorySpanExporter,
) -> None:
    storage = MemorySagaStorage()
    sagas = saga_bootstrap(sagas_mapper=lambda m: m.bind(Trip, ConfirmSaga), saga_storage=storage)
    saga_id = uuid.uuid4()

    class Starting(cqrs.RequestHandler[StartTrip, None]):
        async def handle(self, request: StartTrip) -> None:
            async for _ in sagas.stream(Trip(trip_id=request.trip_id), saga_id):
                break  # the process "dies" after the first step

    await bootstrap(commands_mapper=lambda m: m.bind(StartTrip, Starting)).send(
        StartTrip(trip_id="t9")
    )
    send = by_name(spans)["send StartTrip"]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.trace is not None
    assert "traceparent" in state.trace
    await storage.release(saga_id, owner=sagas.owner)
    spans.clear()

    result = await recover_saga(ConfirmSaga, saga_id, Trip, storage=storage)
    assert result.status is SagaStatus.COMPLETED
    finished = spans.get_finished_spans()
    saga = by_name(spans)["saga ConfirmSaga"]
    (confirm,) = [s for s in finished if s.name.startswith("saga ConfirmSaga ")]
    assert confirm.name == "saga ConfirmSaga act Confirm"
    assert child_of(confirm, saga)
    assert saga.context.trace_id == confirm.context.trace_id == send.context.trace_id
    assert confirm.attributes is not None
    assert confirm.attributes["cqrs.saga.recovering"] is True
