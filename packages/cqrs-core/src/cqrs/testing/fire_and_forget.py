"""A broker that does not wait for its sends: the bug `MessageBrokerContract` must catch.

Wrap any broker to prove the contract has teeth on your transport: its durability test fails
against the wrapper, while it passes against the broker itself::

    from cqrs.testing.fire_and_forget import FireAndForgetBroker

    async def make_broker(self, broker):
        return FireAndForgetBroker(await real_make_broker(broker))
"""

from __future__ import annotations

import asyncio

from cqrs.brokers.message import Message
from cqrs.brokers.protocol import MessageBroker

__all__ = ["FireAndForgetBroker"]


class FireAndForgetBroker:
    """Starts each send of the inner broker in a background task and returns at once, so
    `send_message` returns before anything is stored, as a careless adapter would."""

    def __init__(self, inner: MessageBroker) -> None:
        self.inner = inner
        self._sending: set[asyncio.Task[None]] = set()

    async def send_message(self, message: Message) -> None:
        task = asyncio.create_task(self.inner.send_message(message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def close(self) -> None:
        """Let the sends in flight finish, then close the inner broker if it has `close()`."""
        await asyncio.gather(*self._sending, return_exceptions=True)
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()
