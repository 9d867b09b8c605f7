"""The shared `ConsumerContract` run against `KafkaConsumerTransport` on tansu.

Why tansu (see conftest): a Kafka-compatible broker with consumer groups, commits, keys and
per-partition order, started on a free loopback port; every test uses a topic and group of
its own, and every runner of one test the same group, so a second runner resumes from what
the first committed.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from cqrs.brokers.message import Message
from cqrs.consumers.contract import ConsumerContract
from cqrs_kafka import KafkaMessageBroker, KafkaProducer
from cqrs_kafka.testing import TansuBroker
from cqrs_kafka.transport import KafkaConsumerTransport

pytestmark = pytest.mark.kafka

FAST = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
"""tansu answers a group's first join after about half the session timeout: keep it short."""


class TestKafkaConsumerContract(ConsumerContract):
    timeout = 40.0

    @pytest.fixture
    async def source(
        self, tansu: TansuBroker, read_records: Callable[..., Awaitable[list[Any]]]
    ) -> AsyncIterator[None]:
        self.servers = tansu.bootstrap_servers
        self.topic = f"contract-{uuid.uuid4().hex[:12]}"
        self.group = f"g-{uuid.uuid4().hex}"
        self.read_records = read_records
        self.producer = KafkaProducer(self.servers)
        try:
            yield
        finally:
            await self.producer.stop()

    async def make_transport(self) -> KafkaConsumerTransport:
        return KafkaConsumerTransport(self.servers, [self.topic], self.group, consumer_options=FAST)

    async def publish(self, messages: Sequence[Message]) -> None:
        await KafkaMessageBroker(self.producer).send_many(messages)

    async def read_dead_letters(self, count: int, timeout: float) -> list[tuple[bytes, str]]:
        records = await self.read_records(self.servers, f"{self.topic}.dead-letter", count, timeout)
        return [
            (record.value, dict(record.headers)["dead-letter-reason"].decode())
            for record in records
        ]

    async def make_unreachable_transport(self) -> KafkaConsumerTransport:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return KafkaConsumerTransport(f"127.0.0.1:{port}", ["t"], "g", consumer_options=FAST)
