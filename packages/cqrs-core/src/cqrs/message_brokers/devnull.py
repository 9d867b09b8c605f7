"""The discarding message broker at its python-cqrs 4.x path, which also records what it drops.

Its home is `cqrs.brokers.devnull`. Here, as in python-cqrs 4.x, `DevnullMessageBroker`
appends each message to the module-level list `MESSAGE_BUS`, which tests written for 4.x read.
"""

from __future__ import annotations

from cqrs.brokers.devnull import DevnullMessageBroker as _DroppingBroker
from cqrs.brokers.message import Message

__all__ = ["MESSAGE_BUS", "DevnullMessageBroker"]

MESSAGE_BUS: list[Message] = []
"""Every message a `DevnullMessageBroker` of this module was given, in order."""


class DevnullMessageBroker(_DroppingBroker):
    """Drops every message like `cqrs.DevnullMessageBroker`, appending it to `MESSAGE_BUS`."""

    async def send_message(self, message: Message) -> None:
        MESSAGE_BUS.append(message)
        await super().send_message(message)
