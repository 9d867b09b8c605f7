"""The message broker boundary at its earlier path; its home is `cqrs.brokers`."""

from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.brokers.protocol import MessageBroker

__all__ = ["HEADER_NAMES", "Message", "MessageBroker"]
