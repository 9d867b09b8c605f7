"""The inbox boundary: deduplicates consumed messages inside the handler's own transaction.

Delivery from a broker is at least once; recording the message id in the same transaction as
the handler's effect makes the effect happen once::

    async with inbox as session:
        if not await inbox.record(session, event.event_id, consumer="billing"):
            return                      # already handled (a redelivery)
        ...apply the effect through `session`...
        await inbox.commit(session)

Guarantees (checked by `cqrs.inbox.contract.InboxContract`): `record` returns True for exactly
one committed transaction per `(consumer, message_id)`; a concurrent `record` of the same id
waits for the first transaction and returns False if it committed, True if it rolled back.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["Inbox"]

SessionT = TypeVar("SessionT")


@runtime_checkable
class Inbox(Protocol[SessionT]):
    """Remembers which messages each consumer has processed."""

    async def __aenter__(self) -> SessionT: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def record(
        self, session: SessionT, message_id: uuid.UUID, *, consumer: str = "default"
    ) -> bool:
        """Record `message_id` in `session`; False if it was already processed by `consumer`."""
        ...

    async def commit(self, session: SessionT) -> None:
        """Commit the record together with the handler's changes."""

    async def rollback(self, session: SessionT) -> None:
        """Forget the record: the message will be processed again when redelivered."""

    async def seen(self, message_id: uuid.UUID, *, consumer: str = "default") -> bool:
        """Whether a committed transaction recorded `message_id` for `consumer`."""
        ...
