"""RabbitMQ for cqrs: a `MessageBroker` publishing through aio-pika with publisher confirms.

Names are resolved on first access, so importing the package (as the plugin loader does) does
not load aio-pika.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["DEFAULT_EXCHANGE", "RabbitMQMessageBroker"]

_EXPORTS = {
    "DEFAULT_EXCHANGE": "cqrs_rabbitmq.broker",
    "RabbitMQMessageBroker": "cqrs_rabbitmq.broker",
}

if TYPE_CHECKING:
    from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE, RabbitMQMessageBroker


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
