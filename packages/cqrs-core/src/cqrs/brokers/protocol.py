"""The message broker boundary: what publishing a `Message` promises, and a broker's lifecycle.

`Message` lives in `cqrs.brokers.message` and is re-exported here, since every annotation of a
broker needs both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cqrs.brokers.message import Message

__all__ = ["BrokerLifecycle", "ManagedMessageBroker", "Message", "MessageBroker"]


@runtime_checkable
class MessageBroker(Protocol):
    """Publishes messages to a broker.

    `send_message` returns only once the broker has accepted the message (for brokers with
    acknowledgements, after the acknowledgement, so a consumer started afterwards finds it) and
    raises if it was not accepted: `cqrs.errors.DestinationUnavailableError` when the broker
    or the topic cannot take messages now (with `topic` set when only that topic is affected),
    `cqrs.errors.MessageRejectedError` when it will never take this message. Messages sent
    one after another with the same key reach consumers of the topic in that order.

    A broker may also offer `send_many(messages)`, publishing a batch in order and raising
    `cqrs.errors.PublishBatchError` to say which messages were delivered, refused or not
    sent; the outbox relay uses it when present.
    """

    async def send_message(self, message: Message) -> None: ...


@runtime_checkable
class BrokerLifecycle(Protocol):
    """Opens and releases a broker's connections.

    `connect()` opens them now, so a broker that cannot be reached fails at startup (with
    `cqrs.errors.DestinationUnavailableError` or the client's own error) rather than on the
    first send; connecting a connected broker does nothing. `close()` delivers what is pending
    and releases the connections; it is safe before `connect()` and closing a closed broker
    does nothing. Sends after `close()` may raise; whether `connect()` reopens a closed broker
    is up to the implementation.
    """

    async def connect(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class ManagedMessageBroker(MessageBroker, BrokerLifecycle, Protocol):
    """A message broker with a lifecycle: what `cqrs.plugins.make_message_broker(url)` returns,
    so whoever built a broker from a URL can connect it at startup and close it at shutdown."""
