"""Kafka's side of the core consumer runtime: a `ConsumerTransport` over aiokafka.

`ConsumerRunner` does the rest (concurrency, dispatching, dead-letter retries, stop)::

    from cqrs.consumers import ConsumerRunner
    from cqrs_kafka.transport import KafkaConsumerTransport

    transport = KafkaConsumerTransport("localhost:9092", ["orders"], "billing")
    await ConsumerRunner(transport, dispatcher, concurrency=8).run()

A delivery's ordering key is its partition: records of a partition are handled one at a time
and their offsets committed in order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.errors import KafkaError

from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.consumers.dead_letter import (
    DEAD_LETTER_PREVIEW_BYTES,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    MAX_REASON_CHARS,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    truncation,
)
from cqrs.consumers.transport import ConsumerControl, Delivery
from cqrs.errors import DestinationUnavailableError
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import KafkaProducer

__all__ = ["DEAD_LETTER_SUFFIX", "DEFAULT_CONSUMER_OPTIONS", "KafkaConsumerTransport"]

DEAD_LETTER_SUFFIX = ".dead-letter"
"""Dead letters of topic `t` go to `t` + this suffix unless a dead-letter topic is configured."""

DEFAULT_CONSUMER_OPTIONS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "enable_auto_commit": False,
}
"""aiokafka consumer options used unless overridden; auto-commit is always off."""

_DEAD_LETTER_HEADERS = {
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    ORIGINAL_TOPIC_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_OFFSET_HEADER,
}
_DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024
"""aiokafka's `max_request_size` default: a larger dead letter goes truncated at once."""

_log = logging.getLogger("cqrs_kafka.consumer")


def _message_from_record(record: Any) -> Message:
    """The `cqrs.Message` a consumer record carries; `ValueError` if its headers are unusable."""
    headers: dict[str, str] = {}
    for name, raw in record.headers or ():
        try:
            headers[name] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as exc:
            raise ValueError(f"header {name[:100]!r} is not valid UTF-8: {exc}") from None
    if HEADER_NAMES["key"] not in headers and record.key is not None:
        with contextlib.suppress(UnicodeDecodeError):
            headers[HEADER_NAMES["key"]] = record.key.decode()
    try:
        return Message.from_headers(record.topic, record.value or b"", headers)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the records in hand finish and commit before partitions change owner."""

    def __init__(self, owner: KafkaConsumerTransport, control: ConsumerControl) -> None:
        self._owner = owner
        self._control = control

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # A record held by a destination fault is left at once, so an outage does not stall
        # the rebalance; records fetched but not started are consumed again by the next owner.
        self._control.withdraw()
        await self._control.finish_in_hand()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        _log.info("%r assigned %s", self._owner, sorted(map(str, assigned)))


class KafkaConsumerTransport:
    """Consumes `topics` as a member of `group_id`; dead letters go to `<topic>.dead-letter`.

    A dead letter is a copy of the record (value, key, headers) plus the `dead-letter-reason`,
    `original-topic`, `original-partition` and `original-offset` headers. A copy too large for
    the producer's `max_request_size`, or refused as such, is truncated: the first
    `DEAD_LETTER_PREVIEW_BYTES` of the value, the key, the reason and the coordinates, and a
    `dead-letter-truncated` header saying what was cut (e.g. `value=1572864`).
    """

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        topics: str | Iterable[str],
        group_id: str,
        *,
        dead_letter_topic: str | None = None,
        producer: KafkaProducer | KafkaMessageBroker | None = None,
        consumer_options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(bootstrap_servers, str):
            bootstrap_servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
        self.bootstrap_servers: list[str] = list(bootstrap_servers)
        self.topics: list[str] = [topics] if isinstance(topics, str) else list(topics)
        if not self.bootstrap_servers or not self.topics or not group_id:
            raise ValueError("a Kafka consumer needs bootstrap servers, topics and a group id")
        options = {**DEFAULT_CONSUMER_OPTIONS, **(consumer_options or {})}
        if options["enable_auto_commit"]:
            raise ValueError("the consumer commits itself: enable_auto_commit must be off")
        self.group_id = group_id
        self.dead_letter_topic = dead_letter_topic
        self.consumer_options = options
        if isinstance(producer, KafkaMessageBroker):
            producer = producer.producer
        self._owns_producer = producer is None
        self.producer: KafkaProducer = producer or KafkaProducer(self.bootstrap_servers)
        self._consumer: Any = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {','.join(self.topics)} group={self.group_id!r}>"

    def dead_letter_topic_for(self, topic: str) -> str:
        """The topic dead letters of records consumed from `topic` go to."""
        return self.dead_letter_topic or f"{topic}{DEAD_LETTER_SUFFIX}"

    async def connect(self, control: ConsumerControl) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            **self.consumer_options,
        )
        self._consumer = consumer
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            servers = ",".join(self.bootstrap_servers)
            raise DestinationUnavailableError(
                f"cannot connect to Kafka at {servers}: {exc}"
            ) from exc
        consumer.subscribe(topics=self.topics, listener=_Listener(self, control))

    async def receive(self, limit: int) -> Sequence[Delivery[Any]]:
        try:
            batches: dict[TopicPartition, list[Any]] = await self._consumer.getmany(
                timeout_ms=1000, max_records=limit
            )
        except KafkaError as exc:
            if not exc.retriable:
                raise
            raise DestinationUnavailableError(f"cannot fetch from Kafka: {exc!r}") from exc
        deliveries: list[Delivery[Any]] = []
        for tp, records in batches.items():
            key = f"{tp.topic}:{tp.partition}"
            deliveries.extend(Delivery(record, key) for record in records)
        return deliveries

    def message(self, raw: Any) -> Message:
        return _message_from_record(raw)

    async def ack(self, delivery: Delivery[Any]) -> None:
        record = delivery.raw
        partition = TopicPartition(record.topic, record.partition)
        await self._consumer.commit({partition: record.offset + 1})

    async def dead_letter(self, delivery: Delivery[Any], reason: str, *, truncate: bool) -> bool:
        record = delivery.raw
        truncated = truncate or self._too_large(record)
        value, key, headers = self._dead_letter_copy(record, reason, truncated)
        topic = self.dead_letter_topic_for(record.topic)
        await (await self.producer.send(topic, value, key=key, headers=headers))
        return truncated

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        try:
            if consumer is not None:
                await consumer.stop()
        finally:
            if self._owns_producer:
                await self.producer.stop()

    def describe(self, delivery: Delivery[Any]) -> str:
        record = delivery.raw
        return f"{record.topic}:{record.partition}@{record.offset}"

    def _dead_letter_copy(
        self, record: Any, reason: str, truncated: bool
    ) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
        """Value, key and headers of the dead letter of `record`, whole or truncated."""
        value: bytes = record.value or b""
        headers = [
            (name, raw if raw is not None else b"")
            for name, raw in record.headers or ()
            if name not in _DEAD_LETTER_HEADERS
        ]
        key: bytes | None = record.key
        if truncated:
            kept = sum(len(n) + len(v) for n, v in headers) + len(key or b"")
            note, drop = truncation(len(value), kept)
            if drop:  # hostile headers or key: keep only ours
                headers = []
                key = key[:DEAD_LETTER_PREVIEW_BYTES] if key is not None else None
            headers.append((DEAD_LETTER_TRUNCATED_HEADER, note.encode()))
            value = value[:DEAD_LETTER_PREVIEW_BYTES]
        headers += [
            (DEAD_LETTER_REASON_HEADER, reason[:MAX_REASON_CHARS].encode()),
            (ORIGINAL_TOPIC_HEADER, record.topic.encode()),
            (ORIGINAL_PARTITION_HEADER, str(record.partition).encode()),
            (ORIGINAL_OFFSET_HEADER, str(record.offset).encode()),
        ]
        return value, key, headers

    def _too_large(self, record: Any) -> bool:
        """Whether a whole copy of `record` cannot fit the producer's `max_request_size`."""
        limit = self.producer.options.get("max_request_size", _DEFAULT_MAX_REQUEST_SIZE)
        size = len(record.value or b"") + len(record.key or b"") + MAX_REASON_CHARS
        size += sum(len(name) + len(raw or b"") for name, raw in record.headers or ())
        return bool(size > limit)
