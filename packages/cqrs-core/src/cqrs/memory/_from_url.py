"""Factories of the built-in schemes (`memory://`, `devnull://`), each called with its URL.

The built-in plugin's declarations name these by reference, so resolving `memory://` as a
broker imports the broker alone, not the outbox, the inbox or the saga storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cqrs.brokers.devnull import DevnullMessageBroker
    from cqrs.brokers.memory import MemoryMessageBroker
    from cqrs.inbox.memory import MemoryInbox
    from cqrs.outbox.memory import MemoryOutboxedEventRepository
    from cqrs.saga.storage.memory import MemorySagaStorage

__all__ = ["devnull_message_broker", "inbox", "message_broker", "outbox", "saga_storage"]


def message_broker(url: str) -> MemoryMessageBroker:
    """A new in-process broker for `memory://`; the rest of the URL is not used."""
    from cqrs.brokers.memory import MemoryMessageBroker

    return MemoryMessageBroker()


def devnull_message_broker(url: str) -> DevnullMessageBroker:
    """A broker for `devnull://` that accepts every message and keeps none."""
    from cqrs.brokers.devnull import DevnullMessageBroker

    return DevnullMessageBroker()


def outbox(url: str) -> MemoryOutboxedEventRepository:
    """A new in-process outbox for `memory://`."""
    from cqrs.outbox.memory import MemoryOutboxedEventRepository

    return MemoryOutboxedEventRepository()


def inbox(url: str) -> MemoryInbox:
    """A new in-process inbox for `memory://`: it forgets what it saw when the process exits."""
    from cqrs.inbox.memory import MemoryInbox

    return MemoryInbox()


def saga_storage(url: str) -> MemorySagaStorage:
    """A new in-process saga storage for `memory://`."""
    from cqrs.saga.storage.memory import MemorySagaStorage

    return MemorySagaStorage()
