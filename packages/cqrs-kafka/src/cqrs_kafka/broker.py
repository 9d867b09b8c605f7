"""The Kafka message broker: publishes `cqrs.Message`s with their key and metadata headers.

::

    from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

    broker = KafkaMessageBroker(kafka_producer_factory(dsn="localhost:9092"))
    await broker.send_message(message)  # returns once Kafka acknowledged it
    await broker.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, ClassVar

from cqrs.brokers.message import Message
from cqrs.errors import (
    CQRSError,
    DestinationUnavailableError,
    MessageRejectedError,
    PublishBatchError,
)
from cqrs.faults import Fault
from cqrs.outbox.topics import KAFKA_TOPIC_RULES, check_topic
from cqrs_kafka._errors import classify_kafka, topic_scoped
from cqrs_kafka.producer import KafkaProducer

_VALID_TOPICS_KEPT = 10_000
"""Topics remembered as checked, so the check costs a set lookup per message."""

__all__ = ["KafkaDeliveryError", "KafkaMessageBroker"]


class KafkaDeliveryError(PublishBatchError):
    """Some messages of a `send_many` batch were not delivered.

    `delivered` lists the messages Kafka acknowledged, `failed` each message that was refused
    with its error (a `cqrs` destination or message fault where the cause is known), `unsent`
    the messages not tried: those after a destination fault, and later messages of a refused
    message's key (so a key's order holds).
    """


class KafkaMessageBroker:
    """Sends each message's payload to its topic, keyed by its partition key.

    The Kafka key is `message.key` (UTF-8), so messages with the same key land in one
    partition and keep their order; every `message.headers()` entry becomes a Kafka header.
    A topic name Kafka cannot take is refused with `InvalidTopicError` before anything is
    sent; a record over the producer's `max_request_size` with `MessageRejectedError`;
    an unreachable cluster or an unavailable topic with `DestinationUnavailableError`.
    """

    messaging_system: ClassVar[str] = "kafka"
    """The OpenTelemetry `messaging.system` of what this broker sends."""

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer
        self._closed = False
        self._valid_topics: set[str] = set()

    async def connect(self) -> None:
        """Connect the producer now rather than on the first send (fails fast when unreachable);
        a no-op when connected."""
        try:
            await self.producer.start()
        except Exception as error:
            raise self._converted(error, None) from error

    async def send_message(self, message: Message) -> None:
        """Publish `message` and wait for Kafka's acknowledgement; raise if it was refused."""
        self._check_open()
        try:
            delivery = await self._enqueue(message)
            await delivery
        except CQRSError:
            raise
        except Exception as error:
            raise self._converted(error, message) from error

    async def send_many(self, messages: Iterable[Message]) -> None:
        """Publish `messages` in order, then wait for every acknowledgement.

        Sending all before awaiting lets aiokafka batch them; messages with the same key keep
        their order. Raises `KafkaDeliveryError` naming what was and was not delivered.
        """
        pending: list[tuple[Message, Awaitable[Any]]] = []
        failed: list[tuple[Message, BaseException]] = []
        unsent: list[Message] = []
        blocked_keys: set[str] = set()
        batch = list(messages)
        self._check_open()
        for index, message in enumerate(batch):
            if message.key is not None and message.key in blocked_keys:
                unsent.append(message)
                continue
            try:
                pending.append((message, await self._enqueue(message)))
            except Exception as error:
                converted = self._converted(error, message)
                failed.append((message, converted))
                if isinstance(converted, DestinationUnavailableError) and converted.topic is None:
                    unsent += batch[index + 1 :]
                    break
                if message.key is not None:
                    blocked_keys.add(message.key)
        results = await asyncio.gather(*(d for _, d in pending), return_exceptions=True)
        delivered: list[Message] = []
        for (message, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                failed.append((message, self._converted(result, message)))
            else:
                delivered.append(message)
        if failed or unsent:
            raise KafkaDeliveryError(delivered, failed, unsent) from (
                failed[0][1] if failed else None
            )

    async def close(self) -> None:
        """Deliver pending messages and stop the producer; later sends raise `RuntimeError`."""
        self._closed = True
        await self.producer.stop()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("KafkaMessageBroker is closed")

    async def _enqueue(self, message: Message) -> Awaitable[Any]:
        if message.topic not in self._valid_topics:
            check_topic(message.topic, KAFKA_TOPIC_RULES)
            if len(self._valid_topics) < _VALID_TOPICS_KEPT:
                self._valid_topics.add(message.topic)
        headers = [(name, value.encode()) for name, value in message.headers().items()]
        key = message.key.encode() if message.key is not None else None
        return await self.producer.send(message.topic, message.payload, key=key, headers=headers)

    def _converted(self, error: BaseException, message: Message | None) -> BaseException:
        """`error` as a `cqrs` destination or message fault when aiokafka's error says which."""
        if isinstance(error, CQRSError) or not isinstance(error, Exception):
            return error
        fault = classify_kafka(error)
        servers = ",".join(self.producer.bootstrap_servers)
        described = f"{type(error).__name__}: {error}"
        converted: Exception
        if fault is Fault.MESSAGE:
            what = f"message {message.message_id}" if message is not None else "the message"
            converted = MessageRejectedError(f"Kafka refused {what}: {described}")
        elif fault is Fault.DESTINATION or isinstance(error, ConnectionError | TimeoutError):
            topic = message.topic if message is not None and topic_scoped(error) else None
            where = f"topic {topic!r} on Kafka" if topic is not None else "Kafka"
            converted = DestinationUnavailableError(
                f"{where} at {servers} is unavailable ({described})", topic=topic
            )
        else:
            return error
        converted.__cause__ = error
        return converted
