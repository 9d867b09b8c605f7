"""Kafka for cqrs: a message broker and producer built on aiokafka, and an event consumer.

`aiokafka` loads when a producer first starts or the consumer is first used, so importing this
package is cheap::

    from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

    broker = KafkaMessageBroker(kafka_producer_factory(dsn="localhost:9092"))

or, through the plugin, `bootstrap(message_broker="kafka://localhost:9092?client_id=orders")`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cqrs_kafka.broker import KafkaDeliveryError, KafkaMessageBroker
from cqrs_kafka.producer import DEFAULT_PRODUCER_OPTIONS, KafkaProducer, kafka_producer_factory

__all__ = [
    "DEFAULT_PRODUCER_OPTIONS",
    "KafkaDeliveryError",
    "KafkaEventConsumer",
    "KafkaMessageBroker",
    "KafkaProducer",
    "kafka_producer_factory",
]

_LAZY = {"KafkaEventConsumer": "cqrs_kafka.consumer"}
"""Names whose module imports aiokafka, resolved on first access."""

if TYPE_CHECKING:
    from cqrs_kafka.consumer import KafkaEventConsumer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
