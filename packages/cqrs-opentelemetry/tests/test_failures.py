"""The failure modes of docs/observability.md, one test per row."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.consumers.dispatcher import MessageDispatcher, Verdict
from cqrs.events.bootstrap import bootstrap as event_bootstrap
from cqrs.interception import Interceptor, register, unregister
from cqrs.outbox import OutboxRelay, RelayBatch
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.requests.bootstrap import bootstrap
from cqrs.saga.bootstrap import bootstrap as saga_bootstrap
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs_opentelemetry import CqrsInstrumentor, TracingInterceptor


class Noted(cqrs.NotificationEvent[dict[str, int]]):
    pass


class Ping(cqrs.Request):
    n: int


class PingHandler(cqrs.RequestHandler[Ping, int]):
    async def handle(self, request: Ping) -> int:
        return request.n


class Received(cqrs.EventHandler[Noted]):
    async def handle(self, event: Noted) -> None:
        return None


class Unreachable(SpanExporter):
    """An exporter whose collector is down: every export fails."""

    def __init__(self) -> None:
        self.tried = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.tried += 1
        raise ConnectionRefusedError("collector down")


def test_a_collector_that_is_down_never_fails_a_send() -> None:
    import asyncio

    exporter = Unreachable()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = CqrsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        mediator = bootstrap(queries_mapper=lambda m: m.bind(Ping, PingHandler))
        assert asyncio.run(mediator.send(Ping(n=7))) == 7
    finally:
        instrumentor.uninstrument()
    assert exporter.tried == 1


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    interceptor = TracingInterceptor(tracer_provider=provider)
    register(interceptor)
    try:
        yield exporter
    finally:
        unregister(interceptor)


def consumer() -> MessageDispatcher:
    return MessageDispatcher(
        event_bootstrap(events_mapper=lambda m: m.bind(Noted, Received)), {"Noted": Noted}
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"traceparent": "00-not-a-trace-01"},
        {"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"},
    ],
    ids=["none", "malformed", "all zero"],
)
async def test_a_message_without_a_usable_traceparent_starts_a_trace_of_its_own(
    spans: InMemorySpanExporter, headers: dict[str, str]
) -> None:
    event = Noted(event_name="Noted", topic="notes", payload={"n": 1})
    message = cqrs.Message.from_event(event)
    message = cqrs.Message.from_headers("notes", message.payload, {**message.headers(), **headers})
    assert (await consumer().dispatch(message)).verdict is Verdict.HANDLED
    (process,) = [s for s in spans.get_finished_spans() if s.name == "process notes"]
    assert process.parent is None
    assert process.context.is_valid


async def test_with_no_sdk_configured_nothing_is_recorded_and_nothing_breaks() -> None:
    instrumentor = CqrsInstrumentor()
    instrumentor.instrument()  # the API's global provider: no SDK set up in this process
    try:
        outbox = MemoryOutboxedEventRepository()
        async with outbox as session:
            outbox.add(session, Noted(event_name="Noted", topic="notes", payload={"n": 2}))
            await outbox.commit(session)
        broker = MemoryMessageBroker()
        assert await OutboxRelay(outbox, broker).run_until_idle() == 1
        (message,) = broker.messages["notes"]
        assert "traceparent" not in message.extra_headers
        assert (await consumer().dispatch(message)).verdict is Verdict.HANDLED
        mediator = bootstrap(queries_mapper=lambda m: m.bind(Ping, PingHandler))
        assert await mediator.send(Ping(n=3)) == 3
    finally:
        instrumentor.uninstrument()


class Failing(Interceptor):
    """An observer that raises on every notification."""

    def on_relay_batch(self, batch: RelayBatch) -> None:
        raise RuntimeError("metrics backend broke")

    def on_saga_finished(
        self, saga_name: str, saga_id: uuid.UUID, status: SagaStatus, recovering: bool
    ) -> None:
        raise RuntimeError("metrics backend broke")


async def test_a_failing_relay_observer_is_logged_and_the_relay_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = MemoryOutboxedEventRepository()
    async with outbox as session:
        for n in range(3):
            outbox.add(session, Noted(event_name="Noted", topic="notes", payload={"n": n}))
        await outbox.commit(session)
    relay = OutboxRelay(outbox, MemoryMessageBroker(), interceptors=[Failing()])
    with caplog.at_level(logging.ERROR, logger="cqrs.outbox.relay"):
        assert await relay.run_until_idle() == 3
    assert relay.counters.published == 3
    assert "an on_relay_batch interceptor failed" in caplog.text


class Trip(SagaContext):
    trip_id: str


class Book(SagaStepHandler[Trip, None]):
    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        return None


class TripSaga(Saga[Trip]):
    steps = [Book]  # noqa: RUF012


async def test_a_failing_saga_observer_is_logged_and_the_saga_completes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage_sagas: Any = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), interceptors=[Failing()]
    )
    saga_id = uuid.uuid4()
    with caplog.at_level(logging.ERROR, logger="cqrs.saga"):
        await storage_sagas.execute(Trip(trip_id="t"), saga_id)
    state = await storage_sagas.storage.load_saga_state(saga_id)
    assert state.status is SagaStatus.COMPLETED
    assert "an on_saga_finished interceptor failed" in caplog.text
