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

from cqrs.consumer.dispatcher import MessageDispatcher
from cqrs.protocols.message_broker import Message
from cqrs.protocols.serializer import EventSerializer, Serializer

__all__ = ["EventDecoder", "to_cqrs_message"]

_log = logging.getLogger("cqrs_faststream")


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def to_cqrs_message(message: StreamMessage[Any]) -> Message:
    """The `cqrs.Message` a FastStream message carries: its raw body and our headers (Kafka's
    byte headers and RabbitMQ's typed ones alike), the topic or queue it came from, and the
    content type from the transport when no header names one."""
    headers = {str(name): _text(value) for name, value in (message.headers or {}).items()}
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
    malformed, names an unknown event or fails validation (the reason is logged as a warning).

    `event_types` maps event names (the `event-type` header, else the payload's `event_name`)
    to the classes to rebuild; or pass a `MessageDispatcher` to share its settings.
    """

    def __init__(
        self,
        event_types: Mapping[str, type] | MessageDispatcher,
        *,
        serializer: Serializer | EventSerializer | None = None,
        max_message_bytes: int = 1024 * 1024,
    ) -> None:
        if isinstance(event_types, MessageDispatcher):
            self.dispatcher = event_types
        else:
            self.dispatcher = MessageDispatcher(
                _DecodeOnly(),
                event_types,
                serializer=serializer,
                max_message_bytes=max_message_bytes,
            )

    def decode(self, message: StreamMessage[Any]) -> Any:
        """The event in `message`; raises `ValueError` saying what is wrong with it."""
        return self.dispatcher.decode(to_cqrs_message(message))

    async def __call__(self, message: StreamMessage[Any]) -> Any:
        try:
            event = self.decode(message)
        except ValueError as exc:
            _log.warning("undecodable message %s: %s", message.message_id, exc)
            return None
        return event
