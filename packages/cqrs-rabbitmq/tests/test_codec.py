"""Rebuilding `cqrs.Message`s from AMQP deliveries, including ones other publishers sent."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from cqrs_rabbitmq._codec import from_amqp

pytestmark = pytest.mark.rabbitmq

MakeQueue = Callable[[str], Awaitable[AbstractQueue]]


async def _deliver(
    channel: AbstractChannel, exchange: str, queue: MakeQueue, message: aio_pika.Message
) -> aio_pika.abc.AbstractIncomingMessage:
    target = await queue("foreign")
    await (await channel.get_exchange(exchange)).publish(message, routing_key="foreign")
    return await target.get(no_ack=True, timeout=5)


async def test_properties_fill_in_for_missing_cqrs_headers(
    side_channel: AbstractChannel, exchange_name: str, bound_queue: MakeQueue
) -> None:
    message_id = uuid.uuid4()
    incoming = await _deliver(
        side_channel,
        exchange_name,
        bound_queue,
        aio_pika.Message(
            b"<x/>",
            message_id=str(message_id),
            type="LegacyEvent",
            correlation_id="c-9",
            content_type="application/xml",
            headers={"x-origin": "legacy", "x-count": 3},
        ),
    )
    rebuilt = from_amqp(incoming)
    assert rebuilt.topic == "foreign"
    assert rebuilt.payload == b"<x/>"
    assert rebuilt.message_id == message_id
    assert rebuilt.message_name == "LegacyEvent"
    assert rebuilt.correlation_id == "c-9"
    assert rebuilt.content_type == "application/xml"
    assert rebuilt.extra_headers == {"x-origin": "legacy", "x-count": "3"}


async def test_cqrs_headers_win_over_properties_and_bad_ids_are_ignored(
    side_channel: AbstractChannel, exchange_name: str, bound_queue: MakeQueue
) -> None:
    incoming = await _deliver(
        side_channel,
        exchange_name,
        bound_queue,
        aio_pika.Message(
            b"{}",
            message_id="not-a-uuid",
            type="PropertyName",
            headers={"event-type": "HeaderName", "event-key": "k-1"},
        ),
    )
    rebuilt = from_amqp(incoming)
    assert rebuilt.message_name == "HeaderName"
    assert rebuilt.key == "k-1"
    assert isinstance(rebuilt.message_id, uuid.UUID)
