"""The transactional outbox boundary: written with the business change, drained by relays.

Guarantees every implementation gives (checked by the contract suite
`cqrs.outbox.contract.OutboxRepositoryContract`):

- `add` stages an event in the caller's transaction: it becomes visible to relays only when
  that transaction commits, and vanishes if it rolls back.
- `claim` leases a batch to one worker: no other worker can claim a leased row until the lease
  expires, so two workers never publish the same row at the same time.
- Per partition key, a worker only receives rows whose earlier rows (in write order) are all
  published or discarded, or are in the same batch before them. A row that waits for a retry,
  is leased elsewhere or is dead-lettered therefore holds back every later row of its key.
- Nothing is deleted before it is published or discarded.
- A claimed row comes back with its event's correlation and causation ids and the headers
  stored with it (`OutboxedEvent.headers`), so its message carries them.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from cqrs.brokers.message import Message
from cqrs.protocols.models import INotificationEvent

__all__ = [
    "OutboxStats",
    "OutboxStatus",
    "OutboxedEvent",
    "OutboxedEventRepository",
]

SessionT = TypeVar("SessionT")


class OutboxStatus(enum.IntEnum):
    """Where a row is in its life; stored as a small integer."""

    PENDING = 0
    PUBLISHED = 1
    DEAD = 2
    DISCARDED = 3


@dataclasses.dataclass(slots=True, kw_only=True)
class OutboxedEvent:
    """One outbox row as a relay sees it: the serialized event and its delivery state."""

    id: int
    """Position in write order (monotonic per outbox)."""
    event_id: uuid.UUID
    event_name: str
    topic: str
    payload: bytes
    """The serialized event, already decompressed."""
    partition_key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    created_at: datetime.datetime
    content_type: str = "application/json"
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    headers: Mapping[str, str] | None = None
    """Headers stored with the row (trace context, from `Interceptor.on_outbox_add`), sent
    with its message."""

    def to_message(self) -> Message:
        """The broker message for this row, carrying its id, name, key and trace ids."""
        return Message(
            topic=self.topic,
            payload=self.payload,
            message_name=self.event_name,
            message_id=self.event_id,
            key=self.partition_key,
            timestamp=self.created_at,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            content_type=self.content_type,
            extra_headers=self.headers or {},
        )


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts for progress lines and alerts; `lag` is the age of the oldest pending row."""

    pending: int
    leased: int
    dead: int
    lag: datetime.timedelta | None
    delayed: int = 0
    """Pending rows waiting for a retry time (a refused attempt, or a destination outage)."""


@runtime_checkable
class OutboxedEventRepository(Protocol[SessionT]):
    """An outbox: events added in the business transaction, claimed and settled by relays.

    Writing side (inside a command handler)::

        async with outbox as session:
            ...business changes through `session`...
            outbox.add(session, event)
            await outbox.commit(session)

    Relay side: `claim` a batch under a lease, publish it, then `mark_published` what the
    broker accepted and `mark_failed` what it refused.
    """

    async def __aenter__(self) -> SessionT: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def add(self, session: SessionT, event: INotificationEvent) -> None:
        """Stage `event` in `session`'s transaction."""

    async def commit(self, session: SessionT | None = None) -> None:
        """Commit `session`: the business changes and the staged events, atomically.

        Without a session it does nothing: relay-side methods settle rows as they are called.
        """

    async def rollback(self, session: SessionT) -> None:
        """Roll back `session`: neither the business changes nor the events persist."""

    async def claim(
        self, *, worker_id: str, batch_size: int, lease_seconds: float
    ) -> list[OutboxedEvent]:
        """Lease up to `batch_size` publishable rows to `worker_id`, returned in write order.

        A row is publishable when it is due and every earlier unsettled row of its partition
        key is in the same batch. Which publishable rows a claim picks is the implementation's
        choice, as long as none waits forever: the memory, SQLite and MariaDB outboxes take the
        oldest, PostgreSQL sweeps the keys (see `cqrs_sqla`).
        """
        ...

    async def mark_published(self, events: Sequence[OutboxedEvent], *, worker_id: str) -> int:
        """Settle rows the broker accepted; only rows still leased to `worker_id` count."""
        ...

    async def release(
        self,
        events: Sequence[OutboxedEvent],
        *,
        worker_id: str,
        retry_at: datetime.datetime | None = None,
    ) -> None:
        """Give rows back unpublished and without counting an attempt (shutdown, held back,
        destination unavailable); with `retry_at`, no worker claims them before that time."""

    async def mark_failed(
        self,
        event: OutboxedEvent,
        *,
        worker_id: str,
        error: str,
        retry_at: datetime.datetime | None,
    ) -> OutboxStatus:
        """Record a failed attempt: retry at `retry_at`, or dead-letter when it is `None`."""
        ...

    async def dead_letters(self, *, limit: int = 100) -> list[OutboxedEvent]:
        """Dead-lettered rows, oldest first, with their last error."""
        ...

    async def replay(self, ids: Sequence[int]) -> int:
        """Make dead-lettered rows pending again (attempts reset); returns how many."""
        ...

    async def discard(self, ids: Sequence[int]) -> int:
        """Give up on dead-lettered rows for good, releasing their key; returns how many."""
        ...

    async def stats(self) -> OutboxStats:
        """Current counts and lag."""
        ...
