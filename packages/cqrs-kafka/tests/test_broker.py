"""`KafkaMessageBroker` and `KafkaProducer` against a real Kafka protocol peer (tansu)."""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError

import cqrs
from cqrs.brokers.message import Message
from cqrs.events.event import NotificationEvent
from cqrs.exceptions import DestinationUnavailableError, InvalidTopicError, MessageRejectedError
from cqrs.plugins import make_message_broker
from cqrs.requests.bootstrap import bootstrap
from cqrs_kafka import KafkaDeliveryError, KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.testing import TansuBroker

ReadTopic = Callable[..., Awaitable[list[Any]]]
Topic = Callable[[str], str]


@pytest.fixture
async def broker(tansu: TansuBroker) -> AsyncIterator[KafkaMessageBroker]:
    broker = KafkaMessageBroker(kafka_producer_factory(dsn=tansu.bootstrap_servers))
    yield broker
    await broker.close()


async def test_partition_key_is_the_kafka_key_and_metadata_travels_as_headers(
    broker: KafkaMessageBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("headers")
    sent = Message(
        topic=topic,
        payload=b'{"id": 7}',
        message_name="OrderShipped",
        key="order-7",
        timestamp=datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        correlation_id="corr-7",
        causation_id="cause-7",
    )
    keyless = Message(topic=topic, payload=b"{}", message_name="Ping")
    await broker.send_message(sent)
    await broker.send_message(keyless)

    records = await read_topic(topic, 2)
    by_value = {record.value: record for record in records}
    record = by_value[b'{"id": 7}']
    assert record.key == b"order-7"
    assert dict(record.headers) == {
        "content-type": b"application/json",
        "event-id": str(sent.message_id).encode(),
        "event-type": b"OrderShipped",
        "event-key": b"order-7",
        "event-timestamp": b"2025-01-02T03:04:05+00:00",
        "correlation-id": b"corr-7",
        "causation-id": b"cause-7",
    }
    bare = by_value[b"{}"]
    assert bare.key is None
    assert dict(bare.headers)["event-id"] == str(keyless.message_id).encode()
    assert "event-key" not in dict(bare.headers)


async def test_per_key_order_holds_across_200_messages_sent_as_a_batch(
    broker: KafkaMessageBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("order")
    sent = [
        Message(topic=topic, payload=f"{i}".encode(), message_name="Step", key=f"agg-{i % 7}")
        for i in range(200)
    ]
    await broker.send_many(sent)

    records = await read_topic(topic, 200)
    assert sorted(r.value for r in records) == sorted(m.payload for m in sent)
    for key in {m.key for m in sent}:
        assert key is not None
        mine = [r for r in records if r.key == key.encode()]
        assert len({r.partition for r in mine}) == 1, f"{key} spread over partitions"
        assert [r.value for r in mine] == [m.payload for m in sent if m.key == key]


async def test_sequential_sends_keep_per_key_order(
    broker: KafkaMessageBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("sequential")
    payloads = [f"{i}".encode() for i in range(30)]
    for payload in payloads:
        await broker.send_message(
            Message(topic=topic, payload=payload, message_name="Step", key="one")
        )
    records = await read_topic(topic, 30)
    assert [r.value for r in records] == payloads


async def test_send_many_reports_what_was_and_was_not_delivered(
    broker: KafkaMessageBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("partial")
    ok = [Message(topic=topic, payload=b"ok", message_name="N", key="k") for _ in range(3)]
    too_big = Message(topic=topic, payload=b"x" * (2 * 1024 * 1024), message_name="N", key="k")
    after = Message(topic=topic, payload=b"after", message_name="N", key="k")

    with pytest.raises(KafkaDeliveryError, match="1 message") as info:
        await broker.send_many([*ok, too_big, after])

    assert [m.message_id for m in info.value.delivered] == [m.message_id for m in ok]
    assert [m.message_id for m, _ in info.value.failed] == [too_big.message_id]
    assert isinstance(info.value.failed[0][1], MessageRejectedError), "too large: its own fault"
    assert info.value.unsent == [after], "a refused message holds back the rest of its key"
    received = await read_topic(topic, 3)
    assert [dict(r.headers)["event-id"].decode() for r in received] == [
        str(m.message_id) for m in ok
    ]
    with pytest.raises(TimeoutError):
        await read_topic(topic, 4, timeout=3.0)


async def test_closed_broker_refuses_to_send(broker: KafkaMessageBroker) -> None:
    await broker.close()
    assert not broker.producer.started
    with pytest.raises(RuntimeError, match="closed"):
        await broker.send_message(Message(topic="t", payload=b"", message_name="N"))


async def test_seed_paths_publish_through_the_producer_factory(
    tansu: TansuBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    from cqrs.adapters import kafka as kafka_adapter
    from cqrs.message_brokers import kafka as kafka_broker

    topic = unique_topic("seed")
    producer = kafka_adapter.kafka_producer_factory(dsn=tansu.bootstrap_servers, topics=[topic])
    broker = kafka_broker.KafkaMessageBroker(producer)
    try:
        await producer.start()
        await broker.send_message(Message(topic=topic, payload=b"seed", message_name="N"))
    finally:
        await broker.close()
    (record,) = await read_topic(topic, 1)
    assert record.value == b"seed"


class Paid(cqrs.Response):
    order_id: str


class Pay(cqrs.Request):
    order_id: str
    topic: str


class PayHandler(cqrs.RequestHandler[Pay, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    async def handle(self, request: Pay) -> None:
        self._events.append(
            NotificationEvent[Paid](
                event_name="Paid",
                topic=request.topic,
                payload=Paid(order_id=request.order_id),
                partition_key=request.order_id,
            )
        )


async def test_mediator_publishes_notification_events_to_a_kafka_url(
    tansu: TansuBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("mediator")
    broker = make_message_broker(tansu.url)
    assert isinstance(broker, KafkaMessageBroker)
    mediator = bootstrap(commands_mapper=lambda m: m.bind(Pay, PayHandler), message_broker=broker)
    try:
        await mediator.send(Pay(order_id="o-9", topic=topic))
    finally:
        await broker.close()
    (record,) = await read_topic(topic, 1)
    assert record.key == b"o-9"
    assert json.loads(record.value)["payload"] == {"order_id": "o-9"}
    assert dict(record.headers)["event-type"] == b"Paid"


async def test_unreachable_broker_fails_the_send_and_a_later_send_connects() -> None:
    tansu = TansuBroker()
    broker = KafkaMessageBroker(kafka_producer_factory(dsn=tansu.bootstrap_servers))
    message = Message(topic=f"late-{uuid.uuid4().hex}", payload=b"1", message_name="N")
    with pytest.raises(DestinationUnavailableError, match="Kafka at") as raised:
        await broker.send_message(message)
    assert isinstance(raised.value.__cause__, KafkaConnectionError)
    assert not broker.producer.started
    with tansu:
        try:
            await broker.send_message(message)
            assert broker.producer.started
        finally:
            await broker.close()


async def test_undeliverable_message_raises_once_the_delivery_timeout_passes(
    unique_topic: Topic,
) -> None:
    with TansuBroker() as tansu:
        broker = KafkaMessageBroker(
            kafka_producer_factory(dsn=tansu.bootstrap_servers, request_timeout_ms=1500)
        )
        topic = unique_topic("outage")
        try:
            await broker.send_message(Message(topic=topic, payload=b"1", message_name="N"))
            tansu.stop()
            async with asyncio.timeout(20):
                with pytest.raises(DestinationUnavailableError) as raised:
                    await broker.send_message(Message(topic=topic, payload=b"2", message_name="N"))
                assert isinstance(raised.value.__cause__, KafkaError)
        finally:
            await broker.close()


async def _recreate_topic(bootstrap_servers: str, topic: str) -> None:
    """Give the topic back to a restarted tansu, as a Kafka with durable storage would keep it.

    tansu's memory storage forgets topics on restart, and it answers a produce request for a
    topic it does not know (sent on the producer's cached metadata) with an unknown error.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
        assert topic in await admin.list_topics()
    finally:
        await admin.close()


async def test_producer_reconnects_after_a_broker_restart(
    unique_topic: Topic, read_records: ReadTopic
) -> None:
    with TansuBroker() as tansu:
        broker = KafkaMessageBroker(kafka_producer_factory(dsn=tansu.bootstrap_servers))
        topic = unique_topic("restart")
        try:
            await broker.send_message(Message(topic=topic, payload=b"before", message_name="N"))
            tansu.restart()
            await _recreate_topic(tansu.bootstrap_servers, topic)
            async with asyncio.timeout(20):
                await broker.send_message(
                    Message(topic=topic, payload=b"after", message_name="N", key="k")
                )
        finally:
            await broker.close()
        (record,) = await read_records(tansu.bootstrap_servers, topic, 1)
    assert (record.key, record.value) == (b"k", b"after")


@pytest.mark.parametrize(
    "topic", ["", "has space", "tab\tin", "x" * 250, "ünïcode", ".", "..", "a/b"]
)
async def test_an_invalid_topic_is_refused_before_sending(
    broker: KafkaMessageBroker, topic: str
) -> None:
    """Before: aiokafka waited for the request timeout, then raised UnknownTopicOrPartition."""
    with pytest.raises(InvalidTopicError):
        await broker.send_message(Message(topic=topic, payload=b"1", message_name="N"))


async def test_send_many_skips_only_the_invalid_topic_and_its_key(
    broker: KafkaMessageBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("mixed")
    good = Message(topic=topic, payload=b"good", message_name="N", key="a")
    bad = Message(topic="no good", payload=b"bad", message_name="N", key="b")
    behind = Message(topic=topic, payload=b"behind", message_name="N", key="b")
    with pytest.raises(KafkaDeliveryError) as info:
        await broker.send_many([good, bad, behind])
    assert info.value.delivered == [good]
    assert [m for m, _ in info.value.failed] == [bad]
    assert info.value.unsent == [behind]
    (record,) = await read_topic(topic, 1)
    assert record.value == b"good"


def test_plugin_classifies_aiokafka_errors() -> None:
    from aiokafka import errors

    from cqrs.faults import Fault, classify

    assert classify(errors.KafkaConnectionError("down")) is Fault.DESTINATION
    assert classify(errors.RequestTimedOutError()) is Fault.DESTINATION
    assert classify(errors.UnknownTopicOrPartitionError()) is Fault.DESTINATION
    assert classify(errors.MessageSizeTooLargeError()) is Fault.MESSAGE
    assert classify(errors.CorruptRecordException()) is Fault.MESSAGE
