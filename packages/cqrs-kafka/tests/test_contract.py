"""The message broker contract of `cqrs.testing`, run against `KafkaMessageBroker` on tansu.

Why tansu: the session's embedded Kafka peer (see conftest); the contract needs topics, keys,
headers and per-partition order, all of which it serves. The contract also catches a Kafka
adapter that hands records to aiokafka without awaiting their delivery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cqrs.brokers.message import Message
from cqrs.faults import Fault
from cqrs.testing import MessageBrokerContract
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.testing import TansuBroker


class TestKafkaBrokerContract(MessageBrokerContract):
    """Each read is a consumer with a fresh group id reading the topic from the beginning."""

    large_payload_size = 900 * 1024
    """Under Kafka's default 1 MB limit on a request (producer) and on a message (broker)."""

    quiet_timeout = 3.0
    """Long enough for a reader to join its group on tansu (about a second) and then wait."""

    refused_fault = Fault.MESSAGE
    """An invalid topic name is the message's fault: no retry can make Kafka take it."""

    @pytest.fixture
    async def broker(
        self, tansu: TansuBroker, read_topic: Callable[..., Awaitable[list[Any]]]
    ) -> AsyncIterator[KafkaMessageBroker]:
        self._read_topic = read_topic
        self._servers = tansu.bootstrap_servers
        broker = KafkaMessageBroker(kafka_producer_factory(dsn=self._servers))
        yield broker
        await broker.close()

    async def make_broker(self, broker: Any) -> KafkaMessageBroker:
        other = KafkaMessageBroker(kafka_producer_factory(dsn=self._servers))
        await other.connect()
        return other

    async def refused_topic(self, broker: Any) -> str:
        return "orders paid!"  # a space and a `!`: outside Kafka's topic name rules

    async def read_messages(
        self, broker: Any, topic: str, count: int, timeout: float
    ) -> list[Message]:
        records = await self._read_topic(topic, count, timeout)
        return [
            Message.from_headers(
                record.topic, record.value, {name: value.decode() for name, value in record.headers}
            )
            for record in records
        ]


class _UnawaitedDelivery(KafkaMessageBroker):
    """Queues the record with aiokafka and returns without awaiting its delivery future: the
    fire-and-forget adapter the contract must catch."""

    async def send_message(self, message: Message) -> None:
        headers = [(name, value.encode()) for name, value in message.headers().items()]
        key = message.key.encode() if message.key is not None else None
        await self.producer.send(message.topic, message.payload, key=key, headers=headers)


class _FireAndForgetProbe(TestKafkaBrokerContract):
    read_timeout = 3.0
    """Any timeout gives the same verdict: the frozen sender can never deliver."""

    async def make_broker(self, broker: Any) -> KafkaMessageBroker:
        other = _UnawaitedDelivery(kafka_producer_factory(dsn=self._servers))
        await other.connect()
        return other


async def test_contract_catches_a_kafka_broker_that_does_not_await_delivery(
    tansu: TansuBroker, read_topic: Callable[..., Awaitable[list[Any]]]
) -> None:
    probe = _FireAndForgetProbe()
    probe._read_topic = read_topic
    probe._servers = tansu.bootstrap_servers
    broker = KafkaMessageBroker(kafka_producer_factory(dsn=tansu.bootstrap_servers))
    try:
        with pytest.raises(AssertionError, match="does not wait for the message to be stored"):
            await probe.test_message_is_stored_once_send_message_returns(broker)
    finally:
        await broker.close()
