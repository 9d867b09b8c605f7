"""Consuming events from brokers: the runner, the transport protocol, the dispatcher.

`ConsumerRunner` drives any `ConsumerTransport` (Kafka, RabbitMQ, `MemoryConsumerTransport`,
a third party's) and hands each message to a `MessageDispatcher`, which decodes it within
limits, deduplicates it through an inbox and sends it to the event mediator. The contract every
transport passes is `cqrs.consumers.contract.ConsumerContract` (it imports pytest).
"""

from cqrs.consumers.dead_letter import (
    DEAD_LETTER_PREVIEW_BYTES,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    MAX_REASON_CHARS,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    ORIGINAL_TOPIC_HEADER,
)
from cqrs.consumers.dispatcher import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_MESSAGE_BYTES,
    MessageDispatcher,
    Outcome,
    Verdict,
    inbox_session,
)
from cqrs.consumers.memory import MemoryConsumerTransport, MemoryRecord
from cqrs.consumers.runner import ConsumerCounters, ConsumerRunner
from cqrs.consumers.runner_consumer import RunnerConsumer
from cqrs.consumers.transport import ConsumerControl, ConsumerTransport, Delivery

__all__ = [
    "DEAD_LETTER_PREVIEW_BYTES",
    "DEAD_LETTER_REASON_HEADER",
    "DEAD_LETTER_TRUNCATED_HEADER",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_REASON_CHARS",
    "ORIGINAL_EXCHANGE_HEADER",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_ROUTING_KEY_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "ConsumerControl",
    "ConsumerCounters",
    "ConsumerRunner",
    "ConsumerTransport",
    "Delivery",
    "MemoryConsumerTransport",
    "MemoryRecord",
    "MessageDispatcher",
    "Outcome",
    "RunnerConsumer",
    "Verdict",
    "inbox_session",
]
