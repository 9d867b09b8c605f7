"""A consumer runner feeding Kafka topics to a `MessageDispatcher`, committing after handling.

Bad records go to a dead-letter topic with the reason; the consumer keeps running::

    import asyncio

    import cqrs
    from cqrs.consumer import MessageDispatcher
    from cqrs.events.bootstrap import bootstrap
    from cqrs_kafka import KafkaEventConsumer


    class Paid(cqrs.Response):
        order_id: str


    class OnPaid(cqrs.EventHandler[cqrs.NotificationEvent[Paid]]):
        async def handle(self, event: cqrs.NotificationEvent[Paid]) -> None:
            print("paid", event.payload.order_id)


    async def main() -> None:
        mediator = bootstrap(events_mapper=lambda m: m.bind(cqrs.NotificationEvent[Paid], OnPaid))
        dispatcher = MessageDispatcher(mediator, {"OrderPaid": cqrs.NotificationEvent[Paid]})
        consumer = KafkaEventConsumer("localhost:9092", ["orders"], "billing", dispatcher)
        await consumer.run()  # until consumer.stop()


    asyncio.run(main())
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cqrs.backoff import ExponentialBackoff
from cqrs.consumers.dead_letter import (
    DEAD_LETTER_TRUNCATED_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
)
from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.consumers.runner import ConsumerRunner
from cqrs.consumers.runner_consumer import RunnerConsumer
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import KafkaProducer
from cqrs_kafka.transport import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_CONSUMER_OPTIONS,
    KafkaConsumerTransport,
)

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "DEAD_LETTER_TRUNCATED_HEADER",
    "DEFAULT_CONSUMER_OPTIONS",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "KafkaEventConsumer",
]


class KafkaEventConsumer(RunnerConsumer):
    """Consumes `topics` as member of `group_id` and hands every record to a dispatcher.

    A `ConsumerRunner` over a `KafkaConsumerTransport`. A record's offset is committed only
    once the dispatcher is done with it: handled or a duplicate, or dead-lettered, i.e. copied
    (value, key, headers, plus the `dead-letter-reason`, `original-topic`,
    `original-partition` and `original-offset` headers) to the dead-letter topic and
    acknowledged by Kafka. A copy Kafka refuses as such (larger than the producer's
    `max_request_size` or the topic's limit) is replaced by a truncated one (see
    `KafkaConsumerTransport`). A dead letter that cannot be sent (the cluster is unavailable)
    is retried in place with `retry_backoff`, holding its partition, so nothing is lost and
    nothing overtakes it; so is a record whose handler meets a destination fault (see
    `MessageDispatcher`).

    Each partition's records are handled one at a time, in order (so events of one key keep
    their order); up to `max_concurrent_partitions` partitions are handled concurrently and
    up to `max_batch` records held. Before partitions are revoked the records in hand are
    finished and committed; records fetched but not handled are consumed again by the
    partition's next owner. Delivery is at least once: give the dispatcher an inbox to handle
    each event once. A consumer runs once; `run()` fails at once with
    `DestinationUnavailableError` when the cluster cannot be reached.
    """

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        topics: str | Iterable[str],
        group_id: str,
        dispatcher: MessageDispatcher,
        *,
        dead_letter_topic: str | None = None,
        producer: KafkaProducer | KafkaMessageBroker | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        max_concurrent_partitions: int = 8,
        max_batch: int = 100,
        shutdown_timeout: float = 30.0,
        retry_backoff: ExponentialBackoff | None = None,
    ) -> None:
        if max_concurrent_partitions < 1 or max_batch < 1:
            raise ValueError("max_concurrent_partitions and max_batch must be at least 1")
        self.transport = KafkaConsumerTransport(
            bootstrap_servers,
            topics,
            group_id,
            dead_letter_topic=dead_letter_topic,
            producer=producer,
            consumer_options=consumer_options,
        )
        self.dispatcher = dispatcher
        self.max_concurrent_partitions = max_concurrent_partitions
        self.max_batch = max_batch
        self.runner: ConsumerRunner[Any] = ConsumerRunner(
            self.transport,
            dispatcher,
            concurrency=max_concurrent_partitions,
            max_in_flight=max_batch,
            shutdown_timeout=shutdown_timeout,
            retry_backoff=retry_backoff,
            name=f"{type(self).__name__} {','.join(self.transport.topics)} group={group_id!r}",
        )

    def __repr__(self) -> str:
        topics = ",".join(self.topics)
        return f"<{type(self).__name__} {topics} group={self.group_id!r}>"

    bootstrap_servers = property(lambda self: self.transport.bootstrap_servers)
    topics = property(lambda self: self.transport.topics)
    group_id = property(lambda self: self.transport.group_id)
    dead_letter_topic = property(lambda self: self.transport.dead_letter_topic)
    consumer_options = property(lambda self: self.transport.consumer_options)
    producer = property(lambda self: self.transport.producer)
    retry_backoff = property(lambda self: self.runner.retry_backoff)

    @property
    def truncated_dead_letters(self) -> int:
        """Dead letters sent truncated because the whole record was too large."""
        return self.runner.counters.truncated_dead_letters

    @property
    def dead_letter_failures(self) -> int:
        """Failed attempts to send a dead letter (each was retried or left uncommitted)."""
        return self.runner.counters.dead_letter_failures

    @property
    def commits(self) -> int:
        """Offsets committed."""
        return self.runner.counters.acked

    def dead_letter_topic_for(self, topic: str) -> str:
        """The topic dead letters of records consumed from `topic` go to."""
        return self.transport.dead_letter_topic_for(topic)
