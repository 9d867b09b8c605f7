"""A broker that discards messages, for applications that publish nothing yet."""

from __future__ import annotations

from cqrs.brokers.message import Message

__all__ = ["DevnullMessageBroker"]


class DevnullMessageBroker:
    """Accepts and drops every message, counting them in `dropped`."""

    def __init__(self) -> None:
        self.dropped = 0

    async def send_message(self, message: Message) -> None:
        self.dropped += 1

    async def connect(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to release; the broker keeps dropping messages."""
