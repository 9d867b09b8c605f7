"""Which aio-pika / aiormq errors mean RabbitMQ is unavailable rather than the message is bad.

Used by the plugin's `cqrs_classify_error` hook (the broker itself raises `cqrs` errors).
"""

from __future__ import annotations

from cqrs.faults import Fault

__all__: list[str] = []

_MESSAGE_FAULTS = frozenset({"ChannelPreconditionFailed", "ProtocolSyntaxError"})
"""Refusals of what was sent (a message over `max_message_size` closes the channel so)."""


def classify_amqp(error: BaseException) -> Fault | None:
    """The fault `error` is if aio-pika, aiormq or pamqp raised it, else `None`."""
    if not type(error).__module__.startswith(("aiormq", "aio_pika", "pamqp")):
        return None
    if type(error).__name__ in _MESSAGE_FAULTS:
        return Fault.MESSAGE
    if any(cls.__name__ == "AMQPError" for cls in type(error).__mro__):
        return Fault.DESTINATION
    return None
