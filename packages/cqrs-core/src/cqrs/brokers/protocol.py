"""The message broker boundary: what publishing a `Message` promises.

`Message` lives in `cqrs.brokers.message` and is re-exported here, since every annotation of a
broker needs both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cqrs.brokers.message import Message

__all__ = ["Message", "MessageBroker"]


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
