"""Translating between `cqrs.Message` and AMQP messages, both ways, with nothing lost."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from cqrs.protocols.message_broker import Message

__all__ = ["from_amqp", "to_amqp"]


def to_amqp(message: Message) -> aio_pika.Message:
    """A persistent AMQP message carrying `message`'s payload, properties and cqrs headers.

    The AMQP `timestamp` property has one-second resolution, so the exact timestamp travels in
    the `event-timestamp` header; the property is set (to now when the message has none) for
    tools that show it.
    """
    return aio_pika.Message(
        message.payload,
        headers=dict(message.headers()),
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(message.message_id),
        type=message.message_name,
        timestamp=message.timestamp or datetime.datetime.now(datetime.UTC),
        correlation_id=message.correlation_id,
    )


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(value or "")
    except ValueError:
        return False
    return True


def from_amqp(incoming: AbstractIncomingMessage) -> Message:
    """The `cqrs.Message` a publisher sent, rebuilt from a delivered AMQP message.

    cqrs headers win; for messages from other publishers the AMQP properties (`message_id`,
    `type`, `correlation_id`, `content_type`) fill the gaps. The topic is the routing key.
    """
    headers: dict[str, str] = {}
    fallbacks: Mapping[str, str | None] = {
        "event-id": incoming.message_id if _is_uuid(incoming.message_id) else None,
        "event-type": incoming.type,
        "correlation-id": incoming.correlation_id,
        "content-type": incoming.content_type,
    }
    for name, value in fallbacks.items():
        if value:
            headers[name] = value
    for name, raw in (incoming.headers or {}).items():
        if raw is not None:
            headers[name] = _text(raw)
    return Message.from_headers(incoming.routing_key or "", incoming.body, headers)
