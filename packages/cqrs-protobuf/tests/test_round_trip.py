"""Protobuf events through the SQL outbox, the relay, RabbitMQ and a consumer behind an inbox.

Runs on SQLite (embedded) and PostgreSQL, with the real RabbitMQ of the brief.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from order_events import OrderCancelled, OrderPlaced, cancelled, placed
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.brokers.message import Message
from cqrs.consumer import DEAD_LETTER_REASON_HEADER, MessageDispatcher
from cqrs.events.bootstrap import bootstrap
from cqrs.testing._support.polling import poll
from cqrs.testing._support.services import require_service
from cqrs_protobuf import PROTOBUF_CONTENT_TYPE, ProtobufSerializer
from cqrs_rabbitmq import RabbitMQEventConsumer, RabbitMQMessageBroker
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

pytestmark = pytest.mark.rabbitmq


@pytest.fixture(params=["sqlite", "postgres"])
async def outbox(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqlAlchemyOutboxedEventRepository]:
    """An empty outbox storing protobuf payloads, in a table of its own."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
    else:
        url = require_service("postgres").url
    engine = create_async_engine(url)
    repository = SqlAlchemyOutboxedEventRepository(
        engine, table=f"outbox_{uuid.uuid4().hex[:10]}", serializer=ProtobufSerializer()
    )
    await repository.create_schema()
    try:
        yield repository
    finally:
        await repository.drop_schema()
        await engine.dispose()


@pytest.fixture
async def channel() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel of the test's own on the test RabbitMQ."""
    connection = await aio_pika.connect(require_service("rabbitmq").url)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


async def _drain(queue: aio_pika.abc.AbstractQueue, count: int) -> list[Any]:
    """The first `count` messages of `queue`, acknowledged; fails after 10 seconds."""
    return await poll(lambda: queue.get(no_ack=True, fail=False), count, 10)


async def test_events_round_trip_through_the_outbox_rabbitmq_and_an_inbox(
    outbox: SqlAlchemyOutboxedEventRepository, channel: aio_pika.abc.AbstractChannel
) -> None:
    serializer = ProtobufSerializer()
    handled: list[Any] = []

    class Record(cqrs.EventHandler[Any]):
        async def handle(self, event: Any) -> None:
            handled.append(event)

    mediator = bootstrap(
        events_mapper=lambda m: (m.bind(OrderPlaced, Record), m.bind(OrderCancelled, Record))
    )
    dispatcher = MessageDispatcher(
        mediator,
        {"OrderPlaced": OrderPlaced, "OrderCancelled": OrderCancelled},
        serializer=serializer,
        inbox=cqrs.MemoryInbox(),
    )
    suffix = uuid.uuid4().hex[:12]
    exchange, queue = f"cqrs.test.{suffix}", f"cqrs.test.q.{suffix}"
    consumer = RabbitMQEventConsumer(
        require_service("rabbitmq").url, queue, ["orders"], dispatcher, exchange=exchange
    )
    wire = await channel.declare_queue(f"cqrs.test.wire.{suffix}")
    events: list[Any] = [placed(f"o{i}") for i in range(4)]
    events += [cancelled("o1"), placed("o1", tags={})]
    later = cancelled("o9", reason="out of stock")

    async with outbox as session:
        for event in events:
            outbox.add(session, event)
        await outbox.commit(session)
    running = asyncio.create_task(consumer.run())
    try:
        await consumer.wait_started()
        await wire.bind(exchange, "orders")
        async with RabbitMQMessageBroker(
            require_service("rabbitmq").url, exchange=exchange
        ) as broker:
            assert await cqrs.OutboxRelay(outbox, broker).run_until_idle() == len(events)
            await broker.send_message(Message.from_event(events[0], serializer))
            await broker.send_message(
                Message(
                    topic="orders",
                    payload=b"\x0a\xff\xff",
                    message_name="OrderPlaced",
                    content_type=PROTOBUF_CONTENT_TYPE,
                )
            )
            await broker.send_message(Message.from_event(later, serializer))
        async with asyncio.timeout(10):
            while consumer.handled + consumer.duplicates + consumer.dead_lettered < len(events) + 3:
                await asyncio.sleep(0.02)
        on_the_wire = await _drain(wire, len(events) + 3)
        dead = await _drain(await channel.get_queue(consumer.dead_letter_queue), 1)
    finally:
        consumer.stop()
        await running
        await channel.queue_delete(queue)
        await channel.queue_delete(wire.name)
        await channel.queue_delete(consumer.dead_letter_queue)
        await channel.exchange_delete(exchange)

    by_id = {event.event_id: event for event in handled}
    assert len(handled) == len(by_id) == len(events) + 1
    assert by_id == {event.event_id: event for event in [*events, later]}
    o1 = [event for event in handled if event.partition_key == "o1"]
    assert o1 == [events[1], events[4], events[5]]
    assert (consumer.duplicates, consumer.dead_lettered) == (1, 1)
    for incoming, event in zip(on_the_wire, events, strict=False):
        assert incoming.content_type == PROTOBUF_CONTENT_TYPE
        relayed = serializer.loads_event(incoming.body, type(event))
        assert incoming.body == serializer.dumps_event(relayed)
    assert {incoming.headers["event-id"] for incoming in on_the_wire[: len(events)]} == {
        str(event.event_id) for event in events
    }
    reason = str(dead[0].headers[DEAD_LETTER_REASON_HEADER])
    assert "not a cqrs_protobuf_tests.OrderPlaced message" in reason
