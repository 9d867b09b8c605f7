"""Hook implementations of the rabbitmq plugin: `amqp://` and `amqps://` message brokers."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl

_SCHEMES = ("amqp", "amqps")


@hookimpl
def cqrs_make_message_broker(url: str) -> Any:
    """A `RabbitMQMessageBroker` for an AMQP URL (`?exchange=` picks the exchange), else None."""
    if url.partition("://")[0].lower() not in _SCHEMES:
        return None
    from cqrs_rabbitmq.broker import RabbitMQMessageBroker

    return RabbitMQMessageBroker.from_url(url)


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    """The URL schemes this plugin serves."""
    return {"message_broker": list(_SCHEMES)}


@hookimpl
def cqrs_classify_error(error: BaseException) -> Any:
    """aio-pika's and aiormq's errors: connection, channel, return, nack are destination faults."""
    if not type(error).__module__.startswith(("aiormq", "aio_pika", "pamqp")):
        return None
    from cqrs_rabbitmq._errors import classify_amqp

    return classify_amqp(error)
