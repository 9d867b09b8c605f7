"""In-memory implementations of the protocols: the embedded defaults, also used by tests."""

from cqrs.memory.message_broker import MemoryMessageBroker

__all__ = ["MemoryMessageBroker"]
