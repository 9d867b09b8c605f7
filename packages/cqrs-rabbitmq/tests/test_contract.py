"""The shared `MessageBrokerContract` run against RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from cqrs.protocols.message_broker import Message
from cqrs.testing import MessageBrokerContract
from cqrs_rabbitmq import RabbitMQMessageBroker

pytestmark = pytest.mark.rabbitmq


class TestRabbitMQBrokerContract(MessageBrokerContract):
    """Each topic gets an exclusive, auto-deleted queue bound to it before the test sends."""

    @pytest.fixture
    async def broker(
        self,
        rabbitmq_url: str,
        exchange_name: str,
        side_channel: AbstractChannel,
        read_queue: Callable[[AbstractQueue, int, float], Awaitable[list[Message]]],
    ) -> AsyncIterator[RabbitMQMessageBroker]:
        self.queues: dict[str, AbstractQueue] = {}
        self.read_queue = read_queue
        async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
            yield broker

    async def prepare_topic(self, broker: Any, topic: str) -> None:
        self.queues[topic] = await broker.declare_queue(
            topic, [topic], durable=False, exclusive=True, auto_delete=True
        )

    async def read_messages(
        self, broker: Any, topic: str, count: int, timeout: float
    ) -> list[Message]:
        return await self.read_queue(self.queues[topic], count, timeout)
