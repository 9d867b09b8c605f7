"""RabbitMQMessageBroker against a real RabbitMQ: properties, order, confirms, reconnects."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from aio_pika.exceptions import PublishError

from cqrs.brokers.message import Message
from cqrs.exceptions import DestinationUnavailableError
from cqrs_rabbitmq import RabbitMQMessageBroker

pytestmark = pytest.mark.rabbitmq

Reader = Callable[[AbstractQueue, int, float], Awaitable[list[Message]]]
MakeQueue = Callable[[str], Awaitable[AbstractQueue]]


@pytest.fixture
async def broker(
    rabbitmq_url: str, exchange_name: str, side_channel: AbstractChannel
) -> AsyncIterator[RabbitMQMessageBroker]:
    """A broker on the test's own exchange (deleted afterwards by `side_channel`)."""
    async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
        yield broker


async def _queue(broker: RabbitMQMessageBroker, *keys: str) -> AbstractQueue:
    name = f"cqrs.test.q.{uuid.uuid4().hex[:12]}"
    return await broker.declare_queue(name, keys, durable=False, exclusive=True)


def _message(topic: str, index: int = 0, key: str | None = None) -> Message:
    return Message(topic=topic, payload=str(index).encode(), message_name="Step", key=key)


async def test_amqp_properties_and_headers_carry_the_metadata(
    broker: RabbitMQMessageBroker, exchange_name: str
) -> None:
    queue = await _queue(broker, "orders.paid")
    sent = Message(
        topic="orders.paid",
        payload=b'{"id": 1}',
        message_name="OrderPaid",
        key="order-1",
        timestamp=datetime.datetime(2024, 5, 17, 9, 30, 15, 500000, tzinfo=datetime.UTC),
        correlation_id="corr-7",
        causation_id="cause-3",
        extra_headers={"x-tenant": "acme"},
    )
    await broker.send_message(sent)
    incoming = await queue.get(no_ack=True, timeout=5)
    assert incoming.body == sent.payload
    assert incoming.exchange == exchange_name
    assert incoming.routing_key == "orders.paid"
    assert incoming.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert incoming.message_id == str(sent.message_id)
    assert incoming.type == "OrderPaid"
    assert incoming.correlation_id == "corr-7"
    assert incoming.content_type == "application/json"
    assert incoming.timestamp == datetime.datetime(2024, 5, 17, 9, 30, 15, tzinfo=datetime.UTC)
    assert incoming.headers == sent.headers()
    assert incoming.headers["event-timestamp"] == "2024-05-17T09:30:15.500000+00:00"


async def test_topic_exchange_routes_by_pattern(
    broker: RabbitMQMessageBroker, read_queue: Reader
) -> None:
    orders = await _queue(broker, "orders.*")
    everything = await _queue(broker, "#")
    await broker.send_many(
        [_message("orders.paid", 0), _message("users.created", 1), _message("orders.sent", 2)]
    )
    assert [m.payload for m in await read_queue(orders, 2, 5)] == [b"0", b"2"]
    assert [m.topic for m in await read_queue(everything, 3, 5)] == [
        "orders.paid",
        "users.created",
        "orders.sent",
    ]


@pytest.mark.parametrize("mode", ["send_many", "sequential", "concurrent_batches"])
async def test_per_key_order_holds_across_500_messages(
    broker: RabbitMQMessageBroker, read_queue: Reader, mode: str
) -> None:
    queue = await _queue(broker, "steps")
    sent = [_message("steps", i, key=f"aggregate-{i % 7}") for i in range(500)]
    if mode == "send_many":
        await broker.send_many(sent)
    elif mode == "sequential":
        for message in sent:
            await broker.send_message(message)
    else:  # each key's messages go in one batch; the batches run concurrently
        await asyncio.gather(
            *(broker.send_many([m for m in sent if m.key == f"aggregate-{k}"]) for k in range(7))
        )
    received = await read_queue(queue, len(sent), 20)
    for k in range(7):
        key = f"aggregate-{k}"
        assert [m.message_id for m in received if m.key == key] == [
            m.message_id for m in sent if m.key == key
        ]
    if mode != "concurrent_batches":
        assert [m.payload for m in received] == [m.payload for m in sent]


async def test_message_is_queued_when_send_returns(
    broker: RabbitMQMessageBroker, side_channel: AbstractChannel, bound_queue: MakeQueue
) -> None:
    queue = await bound_queue("confirmed")
    for expected in range(1, 6):
        await broker.send_message(_message("confirmed", expected))
        # A passive declaration reports the queue depth at this instant: no waiting, no polling.
        state = await side_channel.declare_queue(queue.name, passive=True)
        assert state.declaration_result.message_count == expected
    await broker.send_many([_message("confirmed", i) for i in range(10)])
    state = await side_channel.declare_queue(queue.name, passive=True)
    assert state.declaration_result.message_count == 15


async def test_unroutable_message_raises_when_mandatory(broker: RabbitMQMessageBroker) -> None:
    with pytest.raises(DestinationUnavailableError, match="no queue is bound") as raised:
        await broker.send_message(_message("nobody.listens"))
    assert raised.value.topic == "nobody.listens", "only this topic is unavailable"
    assert isinstance(raised.value.__cause__, PublishError)
    queue = await _queue(broker, "still.works")  # the channel survived the return
    await broker.send_message(_message("still.works"))
    assert (await queue.get(no_ack=True, timeout=5)).body == b"0"


async def test_unroutable_message_is_accepted_without_mandatory(
    rabbitmq_url: str, exchange_name: str, side_channel: AbstractChannel
) -> None:
    async with RabbitMQMessageBroker(
        rabbitmq_url, exchange=exchange_name, mandatory=False
    ) as broker:
        await broker.send_message(_message("nobody.listens"))


async def test_connects_lazily_once_and_reconnects_after_close(
    proxy: Any, rabbitmq_url: str, exchange_name: str, side_channel: AbstractChannel
) -> None:
    broker = RabbitMQMessageBroker(proxy.url_for(rabbitmq_url), exchange=exchange_name)
    assert broker.connection is None
    queue = await broker.declare_queue(f"cqrs.test.q.{uuid.uuid4().hex[:12]}", ["lazy"])
    try:
        await asyncio.gather(*(broker.send_message(_message("lazy", i)) for i in range(10)))
        assert proxy.accepted == 1
        await side_channel.declare_exchange(exchange_name, "topic", durable=True, passive=True)
        await broker.close()
        assert broker.connection is None
        await broker.send_message(_message("lazy", 10))
        assert proxy.accepted == 2
    finally:
        await side_channel.queue_delete(queue.name)
        await broker.close()


async def test_next_send_succeeds_after_the_connection_is_cut(
    proxy: Any,
    rabbitmq_url: str,
    exchange_name: str,
    side_channel: AbstractChannel,
    bound_queue: MakeQueue,
    read_queue: Reader,
) -> None:
    queue = await bound_queue("cut")
    url = proxy.url_for(rabbitmq_url, reconnect_interval="0.1")
    broker = RabbitMQMessageBroker(url, exchange=exchange_name, reconnect_timeout=15)
    try:
        async with asyncio.timeout(30):
            await broker.send_message(_message("cut", 0))
            proxy.cut()
            await broker.send_message(_message("cut", 1))
            assert proxy.accepted == 2, "the broker should have opened a new connection"
            proxy.cut()
            await broker.send_many([_message("cut", i) for i in range(2, 50)])
        received = await read_queue(queue, 50, 10)
        assert [m.payload for m in received] == [str(i).encode() for i in range(50)]
    finally:
        await broker.close()


async def test_sends_cut_midway_all_arrive_in_order(
    proxy: Any,
    rabbitmq_url: str,
    exchange_name: str,
    side_channel: AbstractChannel,
    bound_queue: MakeQueue,
    read_queue: Reader,
) -> None:
    queue = await bound_queue("midway")
    url = proxy.url_for(rabbitmq_url, reconnect_interval="0.1")
    broker = RabbitMQMessageBroker(url, exchange=exchange_name, reconnect_timeout=15)
    sent = [_message("midway", i) for i in range(2000)]
    try:
        await broker.connect()
        async with asyncio.timeout(30):
            sending = asyncio.ensure_future(broker.send_many(sent))
            while not sending.done() and proxy.accepted < 2:
                await asyncio.sleep(0.002)
                proxy.cut()
            await sending
        assert proxy.accepted >= 2, "the batch finished before the connection was cut"
        state = await side_channel.declare_queue(queue.name, passive=True)
        received = await read_queue(queue, state.declaration_result.message_count, 10)
    finally:
        await broker.close()
    # At least once: a message whose confirm was lost comes again, but nothing is missing
    # and the first copies keep the send order.
    first_copies = list(dict.fromkeys(m.message_id for m in received))
    assert first_copies == [m.message_id for m in sent]


async def test_send_gives_up_after_reconnect_timeout(
    proxy: Any, rabbitmq_url: str, exchange_name: str, side_channel: AbstractChannel
) -> None:
    url = proxy.url_for(rabbitmq_url, reconnect_interval="0.1")
    broker = RabbitMQMessageBroker(
        url, exchange=exchange_name, mandatory=False, reconnect_timeout=0.5
    )
    try:
        await broker.send_message(_message("gone", 0))
        await proxy.stop()  # cuts the connection and refuses new ones
        async with asyncio.timeout(20):
            with pytest.raises(ConnectionError):
                await broker.send_message(_message("gone", 1))
    finally:
        await broker.close()
