"""The in-memory broker passes the message broker contract, read live and from its log; the
contract catches careless brokers (metadata dropped, sends not waited for).

The memory broker refuses no topic (an in-process list takes any name; the outbox checks names
where events are added), so it names no refused destination and the refusal test is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cqrs import MemoryMessageBroker, Message
from cqrs.testing import FireAndForgetBroker, MessageBrokerContract


async def _wait_for(box: list[Message], count: int, timeout: float) -> list[Message]:
    async with asyncio.timeout(timeout):
        while len(box) < count:
            await asyncio.sleep(0.001)
    return box[:count]


class _ThroughItsLoop:
    """A client of a memory broker from another event loop: each send runs in the broker's own
    loop and returns once the broker has stored the message, like an acknowledged send."""

    def __init__(self, broker: MemoryMessageBroker, loop: asyncio.AbstractEventLoop) -> None:
        self.broker = broker
        self.loop = loop

    async def send_message(self, message: Message) -> None:
        stored = asyncio.run_coroutine_threadsafe(self.broker.send_message(message), self.loop)
        await asyncio.wrap_future(stored)


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
        self.loop = asyncio.get_running_loop()

    async def make_broker(self, broker: MemoryMessageBroker) -> _ThroughItsLoop:
        """Subscribers' queues belong to the test's loop, so other loops send through it."""
        return _ThroughItsLoop(broker, self.loop)

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

    async def make_broker(self, broker: MemoryMessageBroker) -> MemoryMessageBroker:
        """Without subscribers the broker is plain lists, usable from any event loop."""
        return broker

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


class _FireAndForgetProbe(MessageBrokerContract):
    """The contract over a memory broker whose second broker does not wait for its sends."""

    read_timeout = 0.2
    """The verdict does not depend on it: the frozen sender can never deliver."""

    async def make_broker(self, broker: MemoryMessageBroker) -> FireAndForgetBroker:
        return FireAndForgetBroker(broker)

    async def read_messages(
        self, broker: MemoryMessageBroker, topic: str, count: int, timeout: float
    ) -> list[Message]:
        return await _wait_for(broker.messages.setdefault(topic, []), count, timeout)


async def test_contract_catches_a_broker_that_does_not_wait_for_its_sends() -> None:
    broker = MemoryMessageBroker()
    with pytest.raises(AssertionError, match="does not wait for the message to be stored"):
        await _FireAndForgetProbe().test_message_is_stored_once_send_message_returns(broker)
    # The sends it left behind ran once its loop was released: they only came too late.
    [[late]] = broker.messages.values()
    assert late.message_name == "Kept"


async def test_the_same_probe_passes_with_the_broker_itself() -> None:
    class Careful(_FireAndForgetProbe):
        async def make_broker(self, broker: MemoryMessageBroker) -> MemoryMessageBroker:
            return broker

    await Careful().test_message_is_stored_once_send_message_returns(MemoryMessageBroker())


async def test_a_subclass_must_say_how_to_make_a_second_broker() -> None:
    class Forgetful(MessageBrokerContract):
        async def read_messages(
            self, broker: Any, topic: str, count: int, timeout: float
        ) -> list[Message]:
            return []

    with pytest.raises(NotImplementedError, match="must override make_broker"):
        await Forgetful().test_message_is_stored_once_send_message_returns(MemoryMessageBroker())


class _SilentlyDropping:
    """Drops messages to one topic without a word, as an adapter ignoring returns would."""

    def __init__(self) -> None:
        self.inner = MemoryMessageBroker()

    async def send_message(self, message: Message) -> None:
        if message.topic != "unroutable":
            await self.inner.send_message(message)


async def test_contract_catches_a_broker_that_drops_a_refused_message_silently() -> None:
    class Probe(MessageBrokerContract):
        async def refused_topic(self, broker: Any) -> str:
            return "unroutable"

        async def read_messages(
            self, broker: _SilentlyDropping, topic: str, count: int, timeout: float
        ) -> list[Message]:
            return await _wait_for(broker.inner.messages.setdefault(topic, []), count, timeout)

    careless: Any = _SilentlyDropping()
    with pytest.raises(AssertionError, match="dropped silently"):
        await Probe().test_refused_destination_makes_send_message_raise(careless)


class _OpensOnce(MemoryMessageBroker):
    """Refuses a second `connect()` and a second `close()`, as a careless adapter might."""

    def __init__(self) -> None:
        super().__init__()
        self.connected = self.closed = False

    async def connect(self) -> None:
        if self.connected:
            raise RuntimeError("already connected")
        self.connected = True

    async def close(self) -> None:
        if self.closed:
            raise RuntimeError("already closed")
        self.closed = True
        await super().close()


async def test_contract_catches_a_broker_that_connects_or_closes_only_once() -> None:
    probe = TestMemoryBrokerLog()
    with pytest.raises(RuntimeError, match="already connected"):
        await probe.test_connect_is_idempotent(_OpensOnce())
    with pytest.raises(RuntimeError, match="already closed"):
        await probe.test_close_is_idempotent(_OpensOnce())


async def test_the_lifecycle_checks_skip_a_broker_without_one() -> None:
    probe = TestMemoryBrokerLog()
    bare: Any = _SilentlyDropping()
    with pytest.raises(pytest.skip.Exception, match="has no connect"):
        await probe.test_connect_is_idempotent(bare)
    with pytest.raises(pytest.skip.Exception, match="has no close"):
        await probe.test_close_is_idempotent(bare)
