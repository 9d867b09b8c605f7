"""The plugin and the broker tell an unavailable RabbitMQ from a refused message."""

from __future__ import annotations

import aio_pika
import pytest

from cqrs.brokers.message import Message
from cqrs.exceptions import DestinationUnavailableError
from cqrs.faults import Fault, classify
from cqrs_rabbitmq import RabbitMQMessageBroker


async def test_wrong_credentials_are_a_destination_fault(rabbitmq_url: str) -> None:
    wrong = rabbitmq_url.replace("guest:guest@", "guest:wrong@")
    with pytest.raises(Exception) as raised:
        await aio_pika.connect(wrong)
    assert classify(raised.value) is Fault.DESTINATION


async def test_broker_with_wrong_credentials_raises_destination_unavailable_without_secret(
    rabbitmq_url: str, exchange_name: str
) -> None:
    wrong = rabbitmq_url.replace("guest:guest@", "guest:s3cret-pw@")
    broker = RabbitMQMessageBroker(wrong, exchange=exchange_name, reconnect_timeout=1)
    try:
        with pytest.raises(DestinationUnavailableError) as raised:
            await broker.send_message(Message(topic="t", payload=b"", message_name="N"))
    finally:
        await broker.close()
    assert "s3cret-pw" not in str(raised.value)
    assert raised.value.topic is None, "the whole broker is unavailable"


async def test_an_oversize_message_is_refused_before_it_can_close_the_channel(
    rabbitmq_url: str, exchange_name: str, bound_queue: object
) -> None:
    from cqrs.exceptions import MessageRejectedError

    broker = RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name, max_message_bytes=1000)
    try:
        with pytest.raises(MessageRejectedError, match="exceeds"):
            await broker.send_message(Message(topic="t", payload=b"x" * 1001, message_name="N"))
    finally:
        await broker.close()
