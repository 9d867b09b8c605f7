"""Message brokers at their seed-compatible import paths; their home is `cqrs.brokers`."""

from cqrs.brokers.devnull import DevnullMessageBroker
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.brokers.protocol import Message, MessageBroker

__all__ = ["DevnullMessageBroker", "MemoryMessageBroker", "Message", "MessageBroker"]
