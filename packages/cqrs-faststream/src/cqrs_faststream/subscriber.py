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

from cqrs.consumer.dispatcher import DEAD_LETTER_REASON_HEADER, MessageDispatcher, Verdict
from cqrs_faststream.decoder import to_cqrs_message

__all__ = ["subscribe_events"]

_log = logging.getLogger("cqrs_faststream")


def _dead_letter(
    headers: dict[str, str], raw: Any, reason: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and publish options of the dead letter of a message: the reason and where it
    came from (as `cqrs_kafka.KafkaEventConsumer` writes them), and on Kafka the same key."""
    headers = {**headers, DEAD_LETTER_REASON_HEADER: reason}
    topic = getattr(raw, "topic", None) or getattr(raw, "routing_key", None)
    if topic:
        headers["original-topic"] = str(topic)
    options: dict[str, Any] = {}
    if isinstance(getattr(raw, "partition", None), int):
        headers["original-partition"] = str(raw.partition)
        headers["original-offset"] = str(raw.offset)
        options["key"] = raw.key
    return headers, options


async def _raw_body(message: StreamMessage[Any]) -> Any:
    return message.body


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
    dispatcher dead-letters (malformed, unknown, invalid, or still failing after its retries)
    is published to `dead_letter` (a FastStream publisher, or a topic / queue name to publish
    to through `broker`)
    with the reason in the `dead-letter-reason` header (plus `original-topic`, and on Kafka
    `original-partition`, `original-offset` and the record's key), then acked; without
    `dead_letter` it is rejected (RabbitMQ routes it to the queue's dead-letter exchange,
    Kafka skips it) and the reason logged as an error. The subscriber keeps consuming either
    way; if publishing the dead letter fails, the message is nacked (requeued on RabbitMQ, its
    offset rewound on Kafka) so it is not lost.
    """
    if isinstance(dead_letter, str):
        dead_letter = broker.publisher(dead_letter)
    options: dict[str, Any] = {"ack_policy": AckPolicy.MANUAL, "decoder": _raw_body}
    options.update(subscriber_options)
    subscriber = broker.subscriber(*subscriber_args, **options)

    async def consume(body: Any, message: StreamMessage[Any] = Context("message")) -> None:
        received = to_cqrs_message(message)
        outcome = await dispatcher.dispatch(received)
        if outcome.verdict is not Verdict.DEAD_LETTER:
            await message.ack()
            return
        reason = outcome.reason or "unknown"
        if dead_letter is None:
            _log.error("rejecting message %s: %s", received.message_id, reason)
            await message.reject()
            return
        headers, publish_options = _dead_letter(received.headers(), message.raw_message, reason)
        try:
            await dead_letter.publish(received.payload, headers=headers, **publish_options)
        except Exception:
            _log.exception("could not dead-letter %s; redelivering it", received.message_id)
            await message.nack()
            return
        await message.ack()

    subscriber(consume)
    return subscriber
