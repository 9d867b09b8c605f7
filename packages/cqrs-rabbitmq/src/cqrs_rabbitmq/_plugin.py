"""Hook implementations of the rabbitmq plugin: `amqp://` and `amqps://` brokers and consumers."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import CONSUMER_TRANSPORT, MESSAGE_BROKER, SchemeDeclaration, hookimpl


@hookimpl
def cqrs_declare_schemes() -> list[SchemeDeclaration]:
    """`amqp://` and `amqps://`: a `RabbitMQMessageBroker` (`?exchange=` picks the exchange)."""
    factory = "cqrs_rabbitmq.broker:RabbitMQMessageBroker.from_url"
    return [
        SchemeDeclaration(MESSAGE_BROKER, "amqp", factory, "RabbitMQ (aio-pika)"),
        SchemeDeclaration(MESSAGE_BROKER, "amqps", factory, "RabbitMQ over TLS (aio-pika)"),
        *(
            SchemeDeclaration(
                CONSUMER_TRANSPORT,
                scheme,
                "cqrs_rabbitmq.transport:RabbitMQConsumerTransport.from_url",
                "RabbitMQ queue consumer (aio-pika); ?group=queue&topics=routing.keys",
            )
            for scheme in ("amqp", "amqps")
        ),
    ]


@hookimpl
def cqrs_classify_error(error: BaseException) -> Any:
    """aio-pika's and aiormq's errors: connection, channel, return, nack are destination faults."""
    if not type(error).__module__.startswith(("aiormq", "aio_pika", "pamqp")):
        return None
    from cqrs_rabbitmq._errors import classify_amqp

    return classify_amqp(error)
