"""Fixtures for the RabbitMQ tests: the service URL, a side connection and a cuttable proxy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from cqrs.brokers.message import Message
from cqrs.testing._support.polling import poll
from cqrs.testing._support.services import require_service
from cqrs.testing.proxy import TcpProxy
from cqrs_rabbitmq._codec import from_amqp


@pytest.fixture
def rabbitmq_url() -> str:
    """The URL of the RabbitMQ the tests use (skips, or fails under CI, when it is down)."""
    return require_service("rabbitmq").url


@pytest.fixture
def exchange_name() -> str:
    """An exchange name no other test uses."""
    return f"cqrs.test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def side_channel(rabbitmq_url: str, exchange_name: str) -> AsyncIterator[AbstractChannel]:
    """A channel on a connection of the test's own, deleting the test's exchange at the end."""
    connection = await aio_pika.connect(rabbitmq_url)
    try:
        yield await connection.channel()
        # A fresh channel: the test may have left its own one closed by an error.
        await (await connection.channel()).exchange_delete(exchange_name)
    finally:
        await connection.close()


@pytest.fixture
async def bound_queue(
    side_channel: AbstractChannel, exchange_name: str
) -> AsyncIterator[Callable[[str], Awaitable[AbstractQueue]]]:
    """Makes durable queues bound to the test's exchange on the side connection (so cutting a
    broker's connection spares them), deleting them at the end of the test."""
    names: list[str] = []

    async def make(routing_key: str) -> AbstractQueue:
        await side_channel.declare_exchange(exchange_name, "topic", durable=True)
        queue = await side_channel.declare_queue(
            f"cqrs.test.q.{uuid.uuid4().hex[:12]}", durable=True
        )
        names.append(queue.name)
        await queue.bind(exchange_name, routing_key)
        return queue

    yield make
    cleanup = await side_channel.get_underlay_channel()
    for name in names:
        await cleanup.queue_delete(name)


QueueReader = Callable[[AbstractQueue, int, float], Awaitable[list[Message]]]
"""The type of the `read_queue` fixture."""


async def _read_queue(queue: AbstractQueue, count: int, timeout: float) -> list[Message]:
    """The first `count` messages of `queue` (acknowledged), or TimeoutError after `timeout`."""
    return [
        from_amqp(m) for m in await poll(lambda: queue.get(no_ack=True, fail=False), count, timeout)
    ]


@pytest.fixture
def read_queue() -> QueueReader:
    """Reads messages from a queue as `cqrs.Message`s (a fixture, so tests need no imports)."""
    return _read_queue


CuttableProxy = TcpProxy


@pytest.fixture
async def proxy(rabbitmq_url: str) -> AsyncIterator[CuttableProxy]:
    """A started `CuttableProxy` in front of the test RabbitMQ."""
    service = require_service("rabbitmq")
    proxy = CuttableProxy(service.host, service.port)
    await proxy.start()
    yield proxy
    await proxy.stop()
