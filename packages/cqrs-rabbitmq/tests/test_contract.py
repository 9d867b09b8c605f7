"""The shared `MessageBrokerContract` run against RabbitMQ; it also catches a RabbitMQ adapter
that does not wait for the publisher confirm."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from cqrs.brokers.message import Message
from cqrs.faults import Fault
from cqrs.testing import FireAndForgetBroker, MessageBrokerContract
from cqrs_rabbitmq import RabbitMQMessageBroker

pytestmark = pytest.mark.rabbitmq


class TestRabbitMQBrokerContract(MessageBrokerContract):
    """Each topic gets an exclusive, auto-deleted queue bound to it before the test sends."""

    refused_fault = Fault.DESTINATION
    """A routing key no queue is bound to is returned unroutable (`mandatory`): the message is
    kept until a queue is bound, never dead-lettered."""

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
        self.url = rabbitmq_url
        self.exchange = exchange_name
        async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
            yield broker

    async def make_broker(self, broker: Any) -> Any:
        other = RabbitMQMessageBroker(self.url, exchange=self.exchange)
        await other.connect()
        return other

    async def prepare_topic(self, broker: Any, topic: str) -> None:
        self.queues[topic] = await broker.declare_queue(
            topic, [topic], durable=False, exclusive=True, auto_delete=True
        )

    async def refused_topic(self, broker: Any) -> str:
        return self.make_topic("unbound")  # no queue is bound to it

    async def read_messages(
        self, broker: Any, topic: str, count: int, timeout: float
    ) -> list[Message]:
        return await self.read_queue(self.queues[topic], count, timeout)


class _FireAndForgetProbe(TestRabbitMQBrokerContract):
    read_timeout = 2.0
    """Any timeout gives the same verdict: the frozen sender can never publish."""

    async def make_broker(self, broker: Any) -> Any:
        return FireAndForgetBroker(await super().make_broker(broker))


async def test_contract_catches_a_rabbitmq_broker_that_does_not_wait_for_the_confirm(
    rabbitmq_url: str,
    exchange_name: str,
    side_channel: AbstractChannel,
    read_queue: Callable[[AbstractQueue, int, float], Awaitable[list[Message]]],
) -> None:
    probe = _FireAndForgetProbe()
    probe.queues, probe.read_queue = {}, read_queue
    probe.url, probe.exchange = rabbitmq_url, exchange_name
    async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
        with pytest.raises(AssertionError, match="does not wait for the message to be stored"):
            await probe.test_message_is_stored_once_send_message_returns(broker)
