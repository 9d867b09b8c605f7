"""The message broker contract of `cqrs.testing`, run against `KafkaMessageBroker` on tansu."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cqrs.protocols.message_broker import Message
from cqrs.testing import MessageBrokerContract
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.testing import TansuBroker


class TestKafkaBrokerContract(MessageBrokerContract):
    """Each read is a consumer with a fresh group id reading the topic from the beginning."""

    large_payload_size = 900 * 1024
    """Under Kafka's default 1 MB limit on a request (producer) and on a message (broker)."""

    quiet_timeout = 3.0
    """Long enough for a reader to join its group on tansu (about a second) and then wait."""

    @pytest.fixture
    async def broker(
        self, tansu: TansuBroker, read_topic: Callable[..., Awaitable[list[Any]]]
    ) -> AsyncIterator[KafkaMessageBroker]:
        self._read_topic = read_topic
        broker = KafkaMessageBroker(kafka_producer_factory(dsn=tansu.bootstrap_servers))
        yield broker
        await broker.close()

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
