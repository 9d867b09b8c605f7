"""Metrics of a known run, read back with the SDK's in-memory metric reader."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.errors import MessageRejectedError
from cqrs.events.bootstrap import bootstrap as event_bootstrap
from cqrs.inbox.memory import MemoryInbox
from cqrs.interception import register, unregister
from cqrs.outbox import OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.outbox.protocol import OutboxStats
from cqrs.saga.bootstrap import bootstrap as saga_bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs_opentelemetry import MetricsInterceptor


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    interceptor = MetricsInterceptor(meter_provider=MeterProvider(metric_readers=[reader]))
    register(interceptor)
    try:
        yield reader
    finally:
        unregister(interceptor)


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Every data point per instrument name."""
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def total(reader: InMemoryMetricReader, name: str, **labels: Any) -> int:
    return sum(
        p.value
        for p in points(reader).get(name, [])
        if all(p.attributes.get(k) == v for k, v in labels.items())
    )


class Shipped(cqrs.NotificationEvent[dict[str, Any]]):
    pass


def shipped(n: int, topic: str = "orders") -> Shipped:
    return Shipped(event_name="Shipped", topic=topic, payload={"n": n}, partition_key=f"k{n}")


class Refusing(MemoryMessageBroker):
    """Refuses every message whose payload says `"n":13` (a fault of the message)."""

    async def send_message(self, message: cqrs.Message) -> None:
        if b'"n":13' in message.payload:
            raise MessageRejectedError("too unlucky")
        await super().send_message(message)


async def test_relay_counts_published_and_dead_lettered_per_destination(
    reader: InMemoryMetricReader,
) -> None:
    outbox = MemoryOutboxedEventRepository()
    async with outbox as session:
        for n in range(10):
            outbox.add(session, shipped(n))
        outbox.add(session, shipped(13))
        for n in range(3):
            outbox.add(session, shipped(100 + n, topic="invoices"))
        await outbox.commit(session)
    relay = OutboxRelay(outbox, Refusing(), max_attempts=1)
    await relay.run_until_idle()
    assert (
        total(reader, "cqrs.messages.published", **{"messaging.destination.name": "orders"}) == 10
    )
    assert (
        total(reader, "cqrs.messages.published", **{"messaging.destination.name": "invoices"}) == 3
    )
    assert total(reader, "cqrs.messages.dead_lettered", **{"cqrs.source": "relay"}) == 1
    assert total(reader, "cqrs.messages.published") == relay.counters.published
    batches = points(reader)["cqrs.relay.batch.duration"]
    assert sum(p.count for p in batches) == relay.counters.batches


class Received(cqrs.EventHandler[Shipped]):
    async def handle(self, event: Shipped) -> None:
        return None


async def test_consumer_counts_each_outcome_and_times_each_message(
    reader: InMemoryMetricReader,
) -> None:
    consumer = MessageDispatcher(
        event_bootstrap(events_mapper=lambda m: m.bind(Shipped, Received)),
        {"Shipped": Shipped},
        inbox=MemoryInbox(),
    )
    messages = [cqrs.Message.from_event(shipped(n)) for n in range(4)]
    for message in messages:
        await consumer.dispatch(message)
    await consumer.dispatch(messages[0])
    await consumer.dispatch(dataclasses.replace(messages[1], payload=b"{broken"))
    assert total(reader, "cqrs.consumer.messages", **{"cqrs.outcome": "handled"}) == 4
    assert total(reader, "cqrs.consumer.messages", **{"cqrs.outcome": "duplicate"}) == 1
    assert total(reader, "cqrs.consumer.messages", **{"cqrs.outcome": "dead_letter"}) == 1
    assert total(reader, "cqrs.messages.dead_lettered", **{"cqrs.source": "consumer"}) == 1
    durations = points(reader)["cqrs.consumer.process.duration"]
    assert sum(p.count for p in durations) == 6


@dataclasses.dataclass
class Order(SagaContext):
    order_id: str
    fail: bool = False


class Reserve(SagaStepHandler[Order, None]):
    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        return self._generate_step_result(None)

    async def compensate(self, context: Order) -> None:
        return None


class Charge(SagaStepHandler[Order, None]):
    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        if context.fail:
            raise RuntimeError("declined")
        return self._generate_step_result(None)

    async def compensate(self, context: Order) -> None:
        return None


class OrderSaga(Saga[Order]):
    steps = [Reserve, Charge]  # noqa: RUF012


async def test_sagas_are_counted_by_status_and_steps_timed(reader: InMemoryMetricReader) -> None:
    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Order, OrderSaga), compensation_retry_delay=0
    )
    for n in range(3):
        await mediator.execute(Order(order_id=f"o{n}"))
    for n in range(2):
        with pytest.raises(RuntimeError):
            await mediator.execute(Order(order_id=f"f{n}", fail=True))
    assert total(reader, "cqrs.saga.finished", **{"cqrs.saga.status": "completed"}) == 3
    assert total(reader, "cqrs.saga.finished", **{"cqrs.saga.status": "compensated"}) == 2
    steps = points(reader)["cqrs.saga.step.duration"]
    failed = [p for p in steps if p.attributes["cqrs.outcome"] == "error"]
    assert sum(p.count for p in steps) == 3 * 2 + 2 * 3
    assert sum(p.count for p in failed) == 2


def test_outbox_stats_set_the_depth_and_lag_gauges(reader: InMemoryMetricReader) -> None:
    interceptor = next(
        i for i in cqrs.interception.registered() if isinstance(i, MetricsInterceptor)
    )
    interceptor.on_outbox_stats(
        OutboxStats(pending=7, leased=2, dead=1, lag=datetime.timedelta(seconds=3), delayed=1)
    )
    found = points(reader)
    assert [p.value for p in found["cqrs.outbox.depth"]] == [9]
    assert [p.value for p in found["cqrs.outbox.lag"]] == [3.0]
