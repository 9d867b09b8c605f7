"""Translating between `cqrs.Message` and AMQP messages, both ways, with nothing lost."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.consumers.dead_letter import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    MAX_REASON_CHARS,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
)

__all__ = [
    "MAX_DEAD_LETTER_HEADER_BYTES",
    "ORIGINAL_EXCHANGE_HEADER",
    "ORIGINAL_ROUTING_KEY_HEADER",
    "dead_letter_copy",
    "from_amqp",
    "to_amqp",
]

MAX_DEAD_LETTER_HEADER_BYTES = 96 * 1024
"""Largest header table (encoded) a dead letter keeps from its original: the headers travel in
one AMQP frame (RabbitMQ's `frame_max` is 128 KiB), and a frame too large makes RabbitMQ close
the connection, so larger original headers are dropped from the copy."""


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
        HEADER_NAMES["message_id"]: incoming.message_id if _is_uuid(incoming.message_id) else None,
        HEADER_NAMES["message_name"]: incoming.type,
        HEADER_NAMES["correlation_id"]: incoming.correlation_id,
        "content-type": incoming.content_type,
    }
    for name, value in fallbacks.items():
        if value:
            headers[name] = value
    for name, raw in (incoming.headers or {}).items():
        if raw is not None:
            headers[name] = _text(raw)
    return Message.from_headers(incoming.routing_key or "", incoming.body, headers)


def _encoded_size(headers: dict[str, Any]) -> int:
    """Bytes the AMQP field table of `headers` takes on the wire."""
    if not headers:
        return 0
    from pamqp import encode

    return len(encode.field_table(headers))


def dead_letter_copy(incoming: AbstractIncomingMessage, reason: str) -> aio_pika.Message:
    """A persistent copy of a delivered message for a dead-letter queue, saying why and whence.

    Body, headers and properties are kept (except `expiration`, so the copy does not expire,
    and `user_id`, which RabbitMQ checks against the publishing connection); the headers gain
    the reason and the original exchange and routing key. Original headers larger than
    `MAX_DEAD_LETTER_HEADER_BYTES` are dropped (`dead-letter-truncated: headers=<size>`).
    """
    headers = dict(incoming.headers or {})
    size = _encoded_size(headers)
    if size > MAX_DEAD_LETTER_HEADER_BYTES:
        headers = {DEAD_LETTER_TRUNCATED_HEADER: f"headers={size}"}
    headers[DEAD_LETTER_REASON_HEADER] = reason[:MAX_REASON_CHARS]
    headers[ORIGINAL_EXCHANGE_HEADER] = incoming.exchange or ""
    headers[ORIGINAL_ROUTING_KEY_HEADER] = incoming.routing_key or ""
    return aio_pika.Message(
        incoming.body,
        headers=headers,
        content_type=incoming.content_type,
        content_encoding=incoming.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=incoming.priority,
        correlation_id=incoming.correlation_id,
        reply_to=incoming.reply_to,
        message_id=incoming.message_id,
        timestamp=incoming.timestamp,
        type=incoming.type,
        app_id=incoming.app_id,
    )
