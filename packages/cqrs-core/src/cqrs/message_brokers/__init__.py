"""Message brokers: the protocol, the built-in brokers and seed-compatible import paths."""

from cqrs.memory.message_broker import MemoryMessageBroker
from cqrs.message_brokers.devnull import DevnullMessageBroker
from cqrs.protocols.message_broker import Message, MessageBroker

__all__ = ["DevnullMessageBroker", "MemoryMessageBroker", "Message", "MessageBroker"]
