"""A broker that records what it is sent, standing in for a third party's `cqrs-fake` plugin."""

from __future__ import annotations

from cqrs.brokers.message import Message
from cqrs.urls import split_url

__all__ = ["FakeMessageBroker"]


class FakeMessageBroker:
    """Keeps the messages sent to it per topic in `sent`; `name` is from the `fake://name` URL."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: dict[str, list[Message]] = {}
        self.closed = False

    @classmethod
    def from_url(cls, url: str) -> FakeMessageBroker:
        """The broker for `fake://name` (or `fake-legacy://name`): `name` is what follows `://`."""
        return cls(split_url(url)[1])

    async def send_message(self, message: Message) -> None:
        if self.closed:
            raise RuntimeError("FakeMessageBroker is closed")
        self.sent.setdefault(message.topic, []).append(message)

    async def connect(self) -> None:
        """Nothing to open: the broker keeps what it is sent in memory."""

    async def close(self) -> None:
        self.closed = True
