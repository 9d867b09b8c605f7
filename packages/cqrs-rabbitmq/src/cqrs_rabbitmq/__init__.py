"""RabbitMQ for cqrs: a `MessageBroker` publishing through aio-pika with publisher confirms, and
an event consumer feeding a queue to a `MessageDispatcher`.

Names are resolved on first access, so importing the package (as the plugin loader does) does
not load aio-pika.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "DEFAULT_DEAD_LETTER_EXCHANGE",
    "DEFAULT_EXCHANGE",
    "RabbitMQEventConsumer",
    "RabbitMQMessageBroker",
]

_EXPORTS = {
    "DEFAULT_DEAD_LETTER_EXCHANGE": "cqrs_rabbitmq.consumer",
    "DEFAULT_EXCHANGE": "cqrs_rabbitmq.broker",
    "RabbitMQEventConsumer": "cqrs_rabbitmq.consumer",
    "RabbitMQMessageBroker": "cqrs_rabbitmq.broker",
}

if TYPE_CHECKING:
    from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE, RabbitMQMessageBroker
    from cqrs_rabbitmq.consumer import DEFAULT_DEAD_LETTER_EXCHANGE, RabbitMQEventConsumer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
