"""An in-process message broker: the embedded default and a test double that really delivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from cqrs.brokers.message import Message

__all__ = ["MemoryMessageBroker"]


class MemoryMessageBroker:
    """Keeps every message per topic and feeds live subscribers, in send order.

    `messages[topic]` holds what was sent (bounded by `max_messages` per topic, oldest dropped
    first); `subscribe(topic)` yields messages sent after the subscription.
    """

    def __init__(self, *, max_messages: int | None = 100_000) -> None:
        self.messages: dict[str, list[Message]] = {}
        self.max_messages = max_messages
        self._subscribers: dict[str, list[asyncio.Queue[Message | None]]] = {}
        self._closed = False

    async def send_message(self, message: Message) -> None:
        if self._closed:
            raise RuntimeError("MemoryMessageBroker is closed")
        kept = self.messages.setdefault(message.topic, [])
        kept.append(message)
        if self.max_messages is not None and len(kept) > self.max_messages:
            del kept[: len(kept) - self.max_messages]
        for queue in self._subscribers.get(message.topic, ()):
            queue.put_nowait(message)

    async def subscribe(self, topic: str) -> AsyncIterator[Message]:
        """Yield each message sent to `topic` from now on, until the broker is closed."""
        queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self._subscribers.setdefault(topic, []).append(queue)
        try:
            while (message := await queue.get()) is not None:
                yield message
        finally:
            self._subscribers[topic].remove(queue)

    async def connect(self) -> None:
        """Nothing to open: an in-process broker is ready once built."""

    async def close(self) -> None:
        """Refuse further sends and end every subscription."""
        self._closed = True
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(None)
