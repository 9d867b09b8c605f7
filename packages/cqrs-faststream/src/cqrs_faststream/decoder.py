"""Turning FastStream messages into cqrs messages and typed events (the seeds' `decoder`).

Example::

    decoder = EventDecoder({"HelloWorld": cqrs.NotificationEvent[HelloWorldPayload]})

    @broker.subscriber("hello_world", group_id="examples", decoder=decoder,
                       ack_policy=AckPolicy.MANUAL)
    async def on_hello(body: cqrs.NotificationEvent[HelloWorldPayload] | None, msg: KafkaMessage):
        if body is not None:
            await mediator.send(body)
        await msg.ack()
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faststream.message import StreamMessage

from cqrs.brokers.message import Message
from cqrs.consumer.dispatcher import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_REASON_CHARS,
    MessageDispatcher,
)
from cqrs.protocols.serializer import EventSerializer, Serializer

__all__ = ["EventDecoder", "to_cqrs_message"]

_log = logging.getLogger("cqrs_faststream")


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _raw_headers(message: StreamMessage[Any]) -> dict[str, str]:
    """The headers of a FastStream message as text (Kafka's byte headers decoded leniently,
    RabbitMQ's typed ones rendered), exactly as received."""
    return {str(name): _text(value) for name, value in (message.headers or {}).items()}


def _raw_payload(message: StreamMessage[Any]) -> bytes:
    """The body of a FastStream message as bytes, whatever a decoder made of it."""
    body = message.body
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return _text(body).encode()


def to_cqrs_message(message: StreamMessage[Any]) -> Message:
    """The `cqrs.Message` a FastStream message carries: its raw body and our headers (Kafka's
    byte headers and RabbitMQ's typed ones alike), the topic or queue it came from, and the
    content type from the transport when no header names one.

    Raises `ValueError` for headers that do not parse (a malformed `event-id` or
    `event-timestamp`) and `TypeError` for a body a value deserializer already decoded.
    """
    headers = _raw_headers(message)
    if "content-type" not in headers and message.content_type:
        headers["content-type"] = message.content_type
    raw = getattr(message, "raw_message", None)
    topic = getattr(raw, "topic", None) or getattr(raw, "routing_key", None) or ""
    return Message.from_headers(str(topic), _payload(message.body), headers)


def _payload(body: Any) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    raise TypeError(
        f"expected the raw message body, got {type(body).__name__}; "
        "drop value deserializers from subscribers that read cqrs messages"
    )


class _DecodeOnly:
    """Stands in for the mediator of a dispatcher used only to decode."""

    async def send(self, event: Any) -> None:
        raise TypeError("this MessageDispatcher only decodes; give it a mediator to dispatch")


class EventDecoder:
    """A FastStream `decoder`: the typed event a message carries, or `None` when it is
    malformed (body or headers), too large or too deep, names an unknown event or fails
    validation (the reason is logged as a warning). It never raises, so a hostile message
    cannot escape a subscriber's handler unacknowledged.

    `event_types` maps event names (the `event-type` header, else the payload's `event_name`)
    to the classes to rebuild; or pass a `MessageDispatcher` to share its settings.
    """

    def __init__(
        self,
        event_types: Mapping[str, type] | MessageDispatcher,
        *,
        serializer: Serializer | EventSerializer | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        if isinstance(event_types, MessageDispatcher):
            self.dispatcher = event_types
        else:
            self.dispatcher = MessageDispatcher(
                _DecodeOnly(),
                event_types,
                serializer=serializer,
                max_message_bytes=max_message_bytes,
                max_depth=max_depth,
            )

    def decode(self, message: StreamMessage[Any]) -> Any:
        """The event in `message`; raises `ValueError` saying what is wrong with it."""
        try:
            received = to_cqrs_message(message)
        except Exception as exc:
            raise ValueError(f"invalid message headers: {type(exc).__name__}: {exc}") from exc
        return self.dispatcher.decode(received)

    async def __call__(self, message: StreamMessage[Any]) -> Any:
        try:
            return self.decode(message)
        except Exception as exc:
            _log.warning(
                "undecodable message %s: %s", message.message_id, str(exc)[:MAX_REASON_CHARS]
            )
            return None
