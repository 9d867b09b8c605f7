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
from typing import Any

from cqrs.exceptions import CQRSError
from cqrs.protocols.message_broker import Message
from cqrs_kafka.producer import KafkaProducer

__all__ = ["KafkaDeliveryError", "KafkaMessageBroker"]


class KafkaDeliveryError(CQRSError):
    """Some messages of a batch were not delivered.

    `delivered` lists the messages Kafka acknowledged, `failed` each message that was refused
    with its error; the messages after the first refused enqueue were not sent at all.
    """

    def __init__(
        self, delivered: list[Message], failed: list[tuple[Message, BaseException]]
    ) -> None:
        first = failed[0][1]
        super().__init__(
            f"{len(failed)} message(s) not delivered to Kafka "
            f"(first: {type(first).__name__}: {first}); {len(delivered)} delivered"
        )
        self.delivered = delivered
        self.failed = failed


class KafkaMessageBroker:
    """Sends each message's payload to its topic, keyed by its partition key.

    The Kafka key is `message.key` (UTF-8), so messages with the same key land in one
    partition and keep their order; every `message.headers()` entry becomes a Kafka header.
    """

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer
        self._closed = False

    async def send_message(self, message: Message) -> None:
        """Publish `message` and wait for Kafka's acknowledgement; raise if it was refused."""
        delivery = await self._enqueue(message)
        await delivery

    async def send_many(self, messages: Iterable[Message]) -> None:
        """Publish `messages` in order, then wait for every acknowledgement.

        Sending all before awaiting lets aiokafka batch them; messages with the same key keep
        their order. Raises `KafkaDeliveryError` naming what was and was not delivered.
        """
        pending: list[tuple[Message, Awaitable[Any]]] = []
        refused: tuple[Message, BaseException] | None = None
        for message in messages:
            try:
                pending.append((message, await self._enqueue(message)))
            except Exception as exc:
                refused = (message, exc)
                break
        results = await asyncio.gather(*(d for _, d in pending), return_exceptions=True)
        delivered: list[Message] = []
        failed: list[tuple[Message, BaseException]] = []
        for (message, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                failed.append((message, result))
            else:
                delivered.append(message)
        if refused is not None:
            failed.append(refused)
        if failed:
            raise KafkaDeliveryError(delivered, failed) from failed[0][1]

    async def close(self) -> None:
        """Deliver pending messages and stop the producer; later sends raise `RuntimeError`."""
        self._closed = True
        await self.producer.stop()

    async def _enqueue(self, message: Message) -> Awaitable[Any]:
        if self._closed:
            raise RuntimeError("KafkaMessageBroker is closed")
        headers = [(name, value.encode()) for name, value in message.headers().items()]
        key = message.key.encode() if message.key is not None else None
        return await self.producer.send(message.topic, message.payload, key=key, headers=headers)
