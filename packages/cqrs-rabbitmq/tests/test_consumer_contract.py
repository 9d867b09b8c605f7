"""The shared `ConsumerContract` run against `RabbitMQConsumerTransport` on the real RabbitMQ.

Each test gets a queue, exchange and dead-letter exchange of its own, declared before the
contract publishes (a message no queue receives is refused) and deleted at the end.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Sequence

import aio_pika
import pytest

from cqrs.brokers.message import Message
from cqrs.consumers.contract import ConsumerContract
from cqrs.testing._support.polling import poll
from cqrs_rabbitmq import RabbitMQMessageBroker
from cqrs_rabbitmq.transport import RabbitMQConsumerTransport

pytestmark = pytest.mark.rabbitmq


class TestRabbitMQConsumerContract(ConsumerContract):
    timeout = 30.0

    @pytest.fixture
    async def source(self, rabbitmq_url: str) -> AsyncIterator[None]:
        name = f"cqrs.contract.{uuid.uuid4().hex[:12]}"
        self.url = rabbitmq_url
        self.topic = "contract.seats"
        self.queue = name
        self.exchange = f"{name}.x"
        self.dead_letter_exchange = f"{name}.dlx"
        admin = await aio_pika.connect(rabbitmq_url)
        try:
            channel = await admin.channel()
            await channel.declare_exchange(self.exchange, "topic", durable=True)
            await channel.declare_exchange(self.dead_letter_exchange, "direct", durable=True)
            queue = await channel.declare_queue(name, durable=True)
            await queue.bind(self.exchange, self.topic)
            dead = await channel.declare_queue(f"{name}.dead-letter", durable=True)
            await dead.bind(self.dead_letter_exchange, name)
            self.dead_queue = dead
            async with RabbitMQMessageBroker(rabbitmq_url, exchange=self.exchange) as broker:
                self.broker = broker
                yield
        finally:
            cleanup = await admin.channel()
            await cleanup.queue_delete(name)
            await cleanup.queue_delete(f"{name}.dead-letter")
            await cleanup.exchange_delete(self.exchange)
            await cleanup.exchange_delete(self.dead_letter_exchange)
            await admin.close()

    async def make_transport(self) -> RabbitMQConsumerTransport:
        return RabbitMQConsumerTransport(
            self.url,
            self.queue,
            [self.topic],
            exchange=self.exchange,
            dead_letter_exchange=self.dead_letter_exchange,
        )

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.broker.send_many(list(messages))

    async def read_dead_letters(self, count: int, timeout: float) -> list[tuple[bytes, str]]:
        dead_queue = self.dead_queue
        letters = await poll(lambda: dead_queue.get(no_ack=True, fail=False), count, timeout)
        return [(m.body, str((m.headers or {})["dead-letter-reason"])) for m in letters]

    async def make_unreachable_transport(self) -> RabbitMQConsumerTransport:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return RabbitMQConsumerTransport(
            f"amqp://guest:guest@127.0.0.1:{port}/", "q", ["a"], connect_timeout=5
        )
