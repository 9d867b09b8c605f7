"""The contract every `MessageBroker` implementation passes, as a test class to subclass.

A subclass named `Test...` provides an async `broker` fixture, `read_messages` and
`make_broker` (a second broker for another event loop, used to check that a message is stored
once `send_message` returns); pytest then runs every contract test against that broker::

    class TestMyBroker(MessageBrokerContract):
        @pytest.fixture
        async def broker(self) -> AsyncIterator[MyBroker]:
            async with MyBroker("my://localhost") as broker:
                yield broker

        async def make_broker(self, broker):
            other = MyBroker("my://localhost")
            await other.connect()
            return other

        async def read_messages(self, broker, topic, count, timeout):
            return await consume(topic, count, timeout)

        async def refused_topic(self, broker):
            return "no such topic!"  # or None when the broker refuses nothing

The tests are coroutines: run them with pytest-asyncio in auto mode, or mark the subclass
`@pytest.mark.asyncio`.
"""

from __future__ import annotations

import abc
import asyncio
import datetime
import json
import threading
import uuid
from typing import Any

import pytest

from cqrs.brokers.protocol import Message, MessageBroker
from cqrs.events.event import NotificationEvent
from cqrs.faults import Fault, classify
from cqrs.requests.response import Response

__all__ = ["ContractPayload", "MessageBrokerContract"]


class ContractPayload(Response):
    """The payload of the notification events the contract publishes."""

    order_id: str
    amount: int
    tags: list[str]


class MessageBrokerContract(abc.ABC):
    """Behaviour a message broker must show to a consumer of the topics it publishes to, and to
    its sender: `send_message` returns only once the message is stored, and raises when the
    broker refuses it. A broker with `connect()` or `close()` (`BrokerLifecycle`) takes
    each of them twice in a row.

    Each test uses topics of its own (see `make_topic`), so a broker that keeps messages across
    tests passes too. Tune the class attributes for slow brokers.
    """

    read_timeout: float = 10.0
    """Seconds `read_messages` may wait for the messages a test expects."""

    quiet_timeout: float = 0.5
    """Seconds to wait for a message that must not arrive (checks for stray deliveries)."""

    large_payload_size: int = 1024 * 1024
    """Size in bytes of the large payload that must arrive unchanged."""

    refused_fault: Fault | None = None
    """What `cqrs.faults.classify` must say of the error a refused send raises (`None`: any
    error will do): `Fault.MESSAGE` for a name no broker takes, `Fault.DESTINATION` for a
    destination that may exist later (a routing key no queue is bound to yet)."""

    frozen_sender_timeout: float = 300.0
    """Seconds the durability test keeps the sending event loop frozen at most."""

    @abc.abstractmethod
    async def read_messages(
        self, broker: Any, topic: str, count: int, timeout: float
    ) -> list[Message]:
        """The first `count` messages a consumer of `topic` receives, in the order received.

        Raises `TimeoutError` if fewer than `count` arrive within `timeout` seconds.
        """

    async def prepare_topic(self, broker: Any, topic: str) -> None:  # noqa: B027
        """Called before anything is sent to `topic`: subscribe, declare a queue, ... if needed."""

    async def make_broker(self, broker: Any) -> MessageBroker:
        """A new broker configured like `broker` (a second producer of the same service),
        built and connected in the event loop running now.

        The durability test calls it in an event loop of its own, which it freezes as soon as
        `send_message` returns, like a process that exits right after the send, and closes the
        new broker (`close()` or `stop()`) once the verdict is in. An in-process broker whose
        state is tied to no event loop may return `broker` itself (it is then left open).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override make_broker(broker): the contract sends from "
            "a broker of a second event loop to check that a message is stored once "
            "send_message returns"
        )

    async def refused_topic(self, broker: Any) -> str | None:
        """A topic `broker` refuses (an invalid name, a routing key no queue is bound to, ...),
        or `None` when the broker refuses nothing, which skips the refusal test."""
        return None

    def make_topic(self, label: str) -> str:
        """A topic name no other test uses (letters, digits, `.`, `-` and `_` only)."""
        return f"cqrs-contract-{label}-{uuid.uuid4().hex[:12]}"

    async def _topic(self, broker: MessageBroker, label: str) -> str:
        topic = self.make_topic(label)
        await self.prepare_topic(broker, topic)
        return topic

    async def _read(self, broker: MessageBroker, topic: str, count: int) -> list[Message]:
        received = await self.read_messages(broker, topic, count, self.read_timeout)
        assert len(received) == count, f"asked for {count} messages, got {len(received)}"
        return received

    async def test_message_is_stored_once_send_message_returns(self, broker: MessageBroker) -> None:
        """A second broker sends from an event loop that is frozen the moment `send_message`
        returns, so nothing that adapter left for later (an unawaited delivery, a buffer
        flushed by a background task) can run; a fresh consumer must still receive the
        message. Whatever the timeout, an adapter that does not wait for the broker's
        acknowledgement fails this test."""
        topic = await self._topic(broker, "durable")
        sent = Message(topic=topic, payload=b'{"kept": true}', message_name="Kept", key="k-1")
        loop = asyncio.get_running_loop()
        returned: asyncio.Future[None] = loop.create_future()
        release = threading.Event()

        async def exiting_process() -> None:
            other = await self.make_broker(broker)
            try:
                await other.send_message(sent)
                loop.call_soon_threadsafe(returned.set_result, None)
                # Block the thread, not just this task: no callback of this loop runs meanwhile.
                release.wait(self.frozen_sender_timeout)
            finally:
                if other is not broker:
                    await _close(other)

        sender = asyncio.ensure_future(asyncio.to_thread(asyncio.run, exiting_process()))
        try:
            await asyncio.wait({returned, sender}, return_when=asyncio.FIRST_COMPLETED)
            if not returned.done():
                sender.result()  # send_message raised
            try:
                (received,) = await self._read(broker, topic, 1)
            except TimeoutError:
                raise AssertionError(
                    "send_message returned, yet a fresh consumer did not receive the message "
                    "while the sender's event loop stood still: the broker does not wait for "
                    "the message to be stored (acknowledged) before returning"
                ) from None
            assert received.message_id == sent.message_id
            assert received.payload == sent.payload
        finally:
            release.set()
            await asyncio.wait({sender})
        sender.result()

    async def test_connect_is_idempotent(self, broker: MessageBroker) -> None:
        """`connect()`, for a broker that has it, may be called on a connected broker: the
        second call opens nothing new and the broker keeps sending."""
        connect = getattr(broker, "connect", None)
        if connect is None:
            pytest.skip(f"{type(broker).__name__} has no connect()")
        await connect()
        await connect()
        topic = await self._topic(broker, "connected")
        sent = Message(topic=topic, payload=b"{}", message_name="Connected", key="c")
        await broker.send_message(sent)
        (received,) = await self._read(broker, topic, 1)
        assert received.message_id == sent.message_id

    async def test_close_is_idempotent(self, broker: MessageBroker) -> None:
        """`close()`, for a broker that has it, returns when called again on a closed broker.
        It runs before the broker sends anything, so a fixture that leaves its broker
        unconnected (connecting on first send) also checks that closing before `connect()`
        is safe; the fixture's own teardown then closes it once more."""
        close = getattr(broker, "close", None)
        if close is None:
            pytest.skip(f"{type(broker).__name__} has no close()")
        await close()
        await close()

    async def test_refused_destination_makes_send_message_raise(
        self, broker: MessageBroker
    ) -> None:
        """A send the broker refuses raises (it is never dropped silently), and the broker
        keeps working for other topics afterwards."""
        refused = await self.refused_topic(broker)
        if refused is None:
            pytest.skip(f"{type(self).__name__} names no destination its broker refuses")
        message = Message(topic=refused, payload=b"{}", message_name="Refused", key="r")
        try:
            await broker.send_message(message)
        except Exception as error:
            refusal = error
        else:
            raise AssertionError(
                f"send_message returned for topic {refused!r}, which the broker refuses: "
                "the message was dropped silently"
            )
        if self.refused_fault is not None:
            verdict = classify(refusal)
            assert verdict is self.refused_fault, (
                f"{type(refusal).__name__}: {refusal} is a {verdict.value} fault, "
                f"expected a {self.refused_fault.value} fault"
            )
        topic = await self._topic(broker, "after-refusal")
        sent = Message(topic=topic, payload=b"{}", message_name="Accepted", key="r")
        await broker.send_message(sent)
        (received,) = await self._read(broker, topic, 1)
        assert received.message_id == sent.message_id

    async def test_message_arrives_with_all_metadata(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "metadata")
        sent = Message(
            topic=topic,
            payload=b'{"order_id": "o-1"}',
            message_name="OrderPaid",
            key="order-1",
            timestamp=datetime.datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=datetime.UTC),
            correlation_id=str(uuid.uuid4()),
            causation_id=str(uuid.uuid4()),
            extra_headers={"x-tenant": "acme"},
        )
        await broker.send_message(sent)
        (received,) = await self._read(broker, topic, 1)
        assert received.topic == sent.topic
        assert received.payload == sent.payload
        assert received.message_name == sent.message_name
        assert received.message_id == sent.message_id
        assert received.key == sent.key
        assert received.timestamp == sent.timestamp
        assert received.correlation_id == sent.correlation_id
        assert received.causation_id == sent.causation_id
        assert received.content_type == sent.content_type
        assert received.headers() == sent.headers()

    async def test_optional_metadata_stays_absent(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "bare")
        sent = Message(topic=topic, payload=b"{}", message_name="Ping")
        await broker.send_message(sent)
        (received,) = await self._read(broker, topic, 1)
        assert received.message_id == sent.message_id
        assert (received.key, received.correlation_id, received.causation_id) == (None, None, None)
        assert received.headers() == sent.headers()

    async def test_same_key_arrives_in_send_order(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "order")
        sent = [
            Message(
                topic=topic,
                payload=str(i).encode(),
                message_name="Step",
                key=f"aggregate-{i % 2}",
            )
            for i in range(40)
        ]
        for message in sent:
            await broker.send_message(message)
        received = await self._read(broker, topic, len(sent))
        for key in ("aggregate-0", "aggregate-1"):
            expected = [m.message_id for m in sent if m.key == key]
            assert [m.message_id for m in received if m.key == key] == expected
            assert [m.payload for m in received if m.key == key] == [
                m.payload for m in sent if m.key == key
            ]

    async def test_topics_are_isolated(self, broker: MessageBroker) -> None:
        first = await self._topic(broker, "first")
        second = await self._topic(broker, "second")
        for i in range(6):
            topic = first if i % 3 == 0 else second
            await broker.send_message(
                Message(topic=topic, payload=str(i).encode(), message_name="N", key="k")
            )
        got_first = await self._read(broker, first, 2)
        got_second = await self._read(broker, second, 4)
        assert [m.payload for m in got_first] == [b"0", b"3"]
        assert [m.payload for m in got_second] == [b"1", b"2", b"4", b"5"]
        assert {m.topic for m in got_first} == {first}
        assert {m.topic for m in got_second} == {second}
        third = await self._topic(broker, "silent")
        try:
            stray = await self.read_messages(broker, third, 1, self.quiet_timeout)
        except TimeoutError:
            stray = []
        assert stray == [], "a topic nothing was sent to delivered a message"

    async def test_notification_event_round_trips(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "event")
        event = NotificationEvent[ContractPayload](
            event_name="OrderPaid",
            topic=topic,
            payload=ContractPayload(order_id="o-42", amount=1999, tags=["vip", "ünïcode ✓"]),
            partition_key="o-42",
            correlation_id="corr-1",
            causation_id="cause-1",
        )
        await broker.send_message(Message.from_event(event))
        (received,) = await self._read(broker, topic, 1)
        rebuilt = NotificationEvent[ContractPayload].from_dict(json.loads(received.payload))
        assert rebuilt == event
        assert received.message_name == "OrderPaid"
        assert received.message_id == event.event_id
        assert received.key == "o-42"
        assert received.timestamp == event.timestamp

    async def test_concurrent_sends_all_arrive(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "concurrent")
        sent = [
            Message(topic=topic, payload=f"m{i}".encode(), message_name="N", key=f"k{i % 5}")
            for i in range(50)
        ]
        await asyncio.gather(*(broker.send_message(m) for m in sent))
        received = await self._read(broker, topic, len(sent))
        assert sorted(m.message_id for m in received) == sorted(m.message_id for m in sent)
        by_id = {m.message_id: m.payload for m in sent}
        assert all(by_id[m.message_id] == m.payload for m in received)

    async def test_empty_payload_arrives(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "empty")
        sent = Message(topic=topic, payload=b"", message_name="Empty", key="e")
        await broker.send_message(sent)
        (received,) = await self._read(broker, topic, 1)
        assert received.payload == b""
        assert received.message_id == sent.message_id

    async def test_large_binary_payload_arrives_unchanged(self, broker: MessageBroker) -> None:
        topic = await self._topic(broker, "large")
        pattern = bytes(range(256))
        payload = (pattern * (self.large_payload_size // 256 + 1))[: self.large_payload_size]
        sent = Message(
            topic=topic,
            payload=payload,
            message_name="Blob",
            content_type="application/octet-stream",
        )
        await broker.send_message(sent)
        (received,) = await self._read(broker, topic, 1)
        assert len(received.payload) == len(payload)
        assert received.payload == payload
        assert received.headers() == sent.headers()


async def _close(broker: object) -> None:
    """Close a broker the way applications do: `close()`, else `stop()`, if it has either."""
    for name in ("close", "stop"):
        method = getattr(broker, name, None)
        if method is not None:
            await method()
            return
