"""Kafka for cqrs: a message broker and producer built on aiokafka.

`aiokafka` loads when a producer first starts, so importing this package is cheap::

    from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

    broker = KafkaMessageBroker(kafka_producer_factory(dsn="localhost:9092"))

or, through the plugin, `bootstrap(message_broker="kafka://localhost:9092?client_id=orders")`.
"""

from cqrs_kafka.broker import KafkaDeliveryError, KafkaMessageBroker
from cqrs_kafka.producer import DEFAULT_PRODUCER_OPTIONS, KafkaProducer, kafka_producer_factory

__all__ = [
    "DEFAULT_PRODUCER_OPTIONS",
    "KafkaDeliveryError",
    "KafkaMessageBroker",
    "KafkaProducer",
    "kafka_producer_factory",
]
