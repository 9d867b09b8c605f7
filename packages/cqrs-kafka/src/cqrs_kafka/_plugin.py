"""Hook implementations of the kafka plugin: `kafka://` brokers and consumer transports."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import CONSUMER_TRANSPORT, MESSAGE_BROKER, SchemeDeclaration, hookimpl


@hookimpl
def cqrs_declare_schemes() -> list[SchemeDeclaration]:
    """`kafka://host:port[,host:port]?option=value`: a `KafkaMessageBroker` (aiokafka)."""
    return [
        SchemeDeclaration(
            MESSAGE_BROKER, "kafka", "cqrs_kafka._url:broker_from_url", "Kafka (aiokafka)"
        ),
        SchemeDeclaration(
            CONSUMER_TRANSPORT,
            "kafka",
            "cqrs_kafka._url:consumer_transport_from_url",
            "Kafka consumer group (aiokafka); ?topics=a,b&group=name",
        ),
    ]


@hookimpl
def cqrs_classify_error(error: BaseException) -> Any:
    """aiokafka's errors as destination or message faults (`None` for anyone else's)."""
    if not type(error).__module__.startswith(("aiokafka", "kafka")):
        return None
    from cqrs_kafka._errors import classify_kafka

    return classify_kafka(error)
