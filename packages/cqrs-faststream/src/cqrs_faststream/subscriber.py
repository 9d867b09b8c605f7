"""Binding a FastStream subscriber (Kafka, RabbitMQ, ...) to an event mediator, acking only
after handling and dead-lettering what cannot be handled.

Example::

    dispatcher = MessageDispatcher(mediator, {"OrderPaid": cqrs.NotificationEvent[OrderPaid]})
    subscribe_events(
        broker, "orders", group_id="billing", dispatcher=dispatcher,
        dead_letter=broker.publisher("orders.dead-letter"),
    )
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy, Context
from faststream.message import StreamMessage

from cqrs.consumers.dead_letter import (
    DEAD_LETTER_PREVIEW_BYTES,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    truncation,
)
from cqrs.consumers.dispatcher import MessageDispatcher, Verdict
from cqrs.faults import Fault, classify
from cqrs_faststream.decoder import _raw_headers, _raw_payload, to_cqrs_message

__all__ = ["subscribe_events"]

_log = logging.getLogger("cqrs_faststream")


def _dead_letter(
    message: StreamMessage[Any], reason: str, *, truncated: bool = False
) -> tuple[bytes, dict[str, str], dict[str, Any]]:
    """Payload, headers and publish options of the dead letter of a message: its body and
    headers as received plus the reason and where it came from (as `cqrs_kafka.KafkaEventConsumer`
    writes them), and on Kafka the same key. `truncated` keeps only the beginning of the body
    and, when they are large, none of the original headers."""
    payload = _raw_payload(message)
    headers = _raw_headers(message)
    if truncated:
        size = sum(len(name) + len(value) for name, value in headers.items())
        note, drop = truncation(len(payload), size)
        if drop:
            headers = {}
        headers[DEAD_LETTER_TRUNCATED_HEADER] = note
        payload = payload[:DEAD_LETTER_PREVIEW_BYTES]
    headers[DEAD_LETTER_REASON_HEADER] = reason
    raw = message.raw_message
    topic = getattr(raw, "topic", None) or getattr(raw, "routing_key", None)
    if topic:
        headers[ORIGINAL_TOPIC_HEADER] = str(topic)
    options: dict[str, Any] = {}
    if isinstance(getattr(raw, "partition", None), int):
        headers[ORIGINAL_PARTITION_HEADER] = str(raw.partition)
        headers[ORIGINAL_OFFSET_HEADER] = str(raw.offset)
        key = raw.key
        options["key"] = key[:DEAD_LETTER_PREVIEW_BYTES] if truncated and key else key
    return payload, headers, options


async def _raw_body(message: StreamMessage[Any]) -> Any:
    return message.body


async def _publish_dead_letter(dead_letter: Any, message: StreamMessage[Any], reason: str) -> None:
    """Publish the dead letter of `message`; one refused as a message fault (too large for the
    publisher or the broker) is published again truncated."""
    payload, headers, options = _dead_letter(message, reason)
    try:
        await dead_letter.publish(payload, headers=headers, **options)
    except Exception as exc:
        if classify(exc) is not Fault.MESSAGE:
            raise
        _log.warning(
            "the dead letter of %s was refused (%s); publishing it truncated",
            message.message_id,
            exc,
        )
        payload, headers, options = _dead_letter(message, reason, truncated=True)
        await dead_letter.publish(payload, headers=headers, **options)


def subscribe_events(
    broker: Any,
    *subscriber_args: Any,
    dispatcher: MessageDispatcher,
    dead_letter: Any = None,
    **subscriber_options: Any,
) -> Any:
    """Subscribe `dispatcher` on `broker` (arguments as for `broker.subscriber`) and return the
    subscriber.

    Acknowledgement is manual: a message is acked (Kafka: its offset committed) only once its
    event was handled, or recognised as a duplicate by the dispatcher's inbox. A message the
    dispatcher dead-letters (malformed body or headers, unknown, invalid, too large or too
    deep, or still failing after its retries) is published to `dead_letter` (a FastStream
    publisher, or a topic / queue name to publish to through `broker`) with the reason in the
    `dead-letter-reason` header (plus `original-topic`, and on Kafka `original-partition`,
    `original-offset` and the record's key), then acked; a dead letter refused as too large is
    published truncated (`dead-letter-truncated`). Without `dead_letter` the message is
    rejected (RabbitMQ routes it to the queue's dead-letter exchange, Kafka skips it) and the
    reason logged as an error. The subscriber keeps consuming either way; if publishing the
    dead letter fails, the message is nacked (requeued on RabbitMQ, its offset rewound on
    Kafka) so it is not lost. A handler's destination fault holds the message until it clears.
    """
    if isinstance(dead_letter, str):
        dead_letter = broker.publisher(dead_letter)
    options: dict[str, Any] = {"ack_policy": AckPolicy.MANUAL, "decoder": _raw_body}
    options.update(subscriber_options)
    subscriber = broker.subscriber(*subscriber_args, **options)

    async def consume(body: Any, message: StreamMessage[Any] = Context("message")) -> None:
        outcome = await dispatcher.dispatch_from(to_cqrs_message, message)
        if outcome.verdict in (Verdict.HANDLED, Verdict.DUPLICATE):
            await message.ack()
            return
        if outcome.verdict is Verdict.DEFERRED:
            await message.nack()
            return
        reason = outcome.reason or "unknown"
        if dead_letter is None:
            _log.error("rejecting message %s: %s", message.message_id, reason)
            await message.reject()
            return
        try:
            await _publish_dead_letter(dead_letter, message, reason)
        except Exception:
            _log.exception("could not dead-letter %s; redelivering it", message.message_id)
            await message.nack()
            return
        await message.ack()

    subscriber(consume)
    return subscriber
