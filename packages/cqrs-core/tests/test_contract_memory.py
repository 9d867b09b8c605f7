"""The in-memory broker passes the message broker contract, read live and from its log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cqrs import MemoryMessageBroker, Message
from cqrs.testing import MessageBrokerContract


async def _wait_for(box: list[Message], count: int, timeout: float) -> list[Message]:
    async with asyncio.timeout(timeout):
        while len(box) < count:
            await asyncio.sleep(0.001)
    return box[:count]


class TestMemoryBrokerSubscription(MessageBrokerContract):
    """Consumes through `subscribe`, the way an in-process consumer would."""

    quiet_timeout = 0.05

    @pytest.fixture
    async def broker(self) -> AsyncIterator[MemoryMessageBroker]:
        self.received: dict[str, list[Message]] = {}
        self.consumers: list[asyncio.Task[None]] = []
        broker = MemoryMessageBroker()
        yield broker
        await broker.close()
        await asyncio.gather(*self.consumers)

    async def prepare_topic(self, broker: MemoryMessageBroker, topic: str) -> None:
        box = self.received[topic] = []

        async def consume() -> None:
            async for message in broker.subscribe(topic):
                box.append(message)

        self.consumers.append(asyncio.create_task(consume()))
        await asyncio.sleep(0)  # the consumer runs up to its first wait: it is subscribed

    async def read_messages(
        self, broker: MemoryMessageBroker, topic: str, count: int, timeout: float
    ) -> list[Message]:
        return await _wait_for(self.received[topic], count, timeout)


class TestMemoryBrokerLog(MessageBrokerContract):
    """Reads `messages[topic]`, the log tests inspect."""

    quiet_timeout = 0.05

    @pytest.fixture
    async def broker(self) -> AsyncIterator[MemoryMessageBroker]:
        broker = MemoryMessageBroker()
        yield broker
        await broker.close()

    async def read_messages(
        self, broker: MemoryMessageBroker, topic: str, count: int, timeout: float
    ) -> list[Message]:
        return await _wait_for(broker.messages.setdefault(topic, []), count, timeout)


def test_contract_base_is_not_collected_and_is_abstract() -> None:
    assert not MessageBrokerContract.__name__.startswith("Test")
    with pytest.raises(TypeError, match="read_messages"):
        MessageBrokerContract()  # type: ignore[abstract]


class _BrokerThatDropsMetadata:
    """Forwards only topic and payload, as a careless adapter would."""

    def __init__(self) -> None:
        self.inner = MemoryMessageBroker()

    async def send_message(self, message: Message) -> None:
        await self.inner.send_message(
            Message(topic=message.topic, payload=message.payload, message_name="")
        )


async def test_contract_catches_a_broker_that_drops_metadata() -> None:
    class Probe(MessageBrokerContract):
        async def read_messages(
            self, broker: _BrokerThatDropsMetadata, topic: str, count: int, timeout: float
        ) -> list[Message]:
            return await _wait_for(broker.inner.messages.setdefault(topic, []), count, timeout)

    careless: Any = _BrokerThatDropsMetadata()
    with pytest.raises(AssertionError):
        await Probe().test_message_arrives_with_all_metadata(careless)
