"""The in-process message broker at its earlier path; its home is `cqrs.brokers.memory`."""

from cqrs.brokers.memory import MemoryMessageBroker

__all__ = ["MemoryMessageBroker"]
