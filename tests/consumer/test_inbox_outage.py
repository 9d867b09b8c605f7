"""A PostgreSQL inbox going down under a running RabbitMQ consumer: messages wait, none is
dead-lettered, and each is handled once when the database is back.

PostgreSQL sits behind a `TcpProxy` so the test can take it away from this consumer alone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumer import MessageDispatcher
from cqrs.events.bootstrap import bootstrap
from cqrs.testing._support.services import require_service
from cqrs.testing.proxy import TcpProxy
from cqrs_rabbitmq import RabbitMQEventConsumer, RabbitMQMessageBroker
from cqrs_sqla import SqlAlchemyInbox

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]


class Booked(cqrs.Response):
    seat: str


BookedEvent = cqrs.NotificationEvent[Booked]


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


@pytest.fixture
async def pg_proxy() -> AsyncIterator[TcpProxy]:
    service = require_service("postgres")
    async with TcpProxy(service.host, service.port) as proxy:
        yield proxy


@pytest.fixture
async def inbox_table() -> AsyncIterator[str]:
    """A fresh inbox table, dropped at the end."""
    table = f"test_inbox_outage_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(require_service("postgres").url)
    admin = SqlAlchemyInbox(engine, table=table)
    await admin.create_schema()
    try:
        yield table
    finally:
        await admin.drop_schema()
        await engine.dispose()


async def test_an_inbox_outage_holds_messages_and_dead_letters_none(
    pg_proxy: TcpProxy, inbox_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The old dispatcher counted each inbox failure as a handler attempt: after three, the
    events were dead-lettered although nothing was wrong with them."""
    amqp_url = require_service("rabbitmq").url
    engine = create_async_engine(pg_proxy.url_for(require_service("postgres").url))
    inbox = SqlAlchemyInbox(engine, table=inbox_table)
    seats: list[str] = []

    class Book(cqrs.EventHandler[BookedEvent]):
        async def handle(self, event: BookedEvent) -> None:
            seats.append(event.payload.seat)

    dispatcher = MessageDispatcher(
        bootstrap(events_mapper=lambda m: m.bind(BookedEvent, Book)),
        {"Booked": BookedEvent},
        inbox=inbox,
        consumer_name="seats",
        handler_attempts=3,
        backoff=ExponentialBackoff(base=0.001, jitter=False),
        destination_backoff=ExponentialBackoff(base=0.02, cap=0.1),
    )
    name = f"cqrs.test.inbox-outage.{uuid.uuid4().hex[:10]}"
    consumer = RabbitMQEventConsumer(
        amqp_url, name, ["seats"], dispatcher, exchange=name, dead_letter_exchange=f"{name}.dlx"
    )

    def send(seat: str) -> Message:
        return Message.from_event(
            BookedEvent(event_name="Booked", topic="seats", payload=Booked(seat=seat))
        )

    run = asyncio.create_task(consumer.run())
    try:
        async with RabbitMQMessageBroker(amqp_url, exchange=name) as broker:
            await consumer.wait_started()
            await broker.send_message(send("1A"))
            await eventually(lambda: consumer.handled == 1)

            with caplog.at_level(logging.INFO, logger="cqrs.consumer"):
                pg_proxy.down()
                await broker.send_many([send("1B"), send("1C")])
                await eventually(lambda: dispatcher.destination_unavailable)
                await asyncio.sleep(0.5)  # many retries meanwhile
                assert (consumer.handled, consumer.dead_lettered) == (1, 0)
                pg_proxy.up()
                await eventually(lambda: consumer.handled == 3)
        consumer.stop()
        async with asyncio.timeout(20):
            await run
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await engine.dispose()
        await _delete(amqp_url, name)

    assert seats == ["1A", "1B", "1C"]
    assert consumer.dead_lettered == 0
    outage = [r.getMessage() for r in caplog.records if r.name == "cqrs.consumer"]
    assert len(outage) == 2, outage
    assert "destination unavailable" in outage[0]
    assert "inbox failed" in outage[0]
    assert "available again" in outage[1]


async def _delete(url: str, name: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel: Any = await connection.channel()
        for queue in (name, f"{name}.dead-letter"):
            await channel.queue_delete(queue)
        for exchange in (name, f"{name}.dlx"):
            await channel.exchange_delete(exchange)
