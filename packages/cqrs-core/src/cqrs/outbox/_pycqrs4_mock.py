"""python-cqrs 4.x's `MockOutboxedEventRepository`, on the memory outbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, overload

from cqrs.outbox.memory import MemoryOutboxedEventRepository, MemoryOutboxSession
from cqrs.outbox.protocol import OutboxedEvent, OutboxStatus
from cqrs.protocols.models import INotificationEvent

__all__ = ["MockOutboxedEventRepository"]


class MockOutboxedEventRepository(MemoryOutboxedEventRepository):
    """The memory outbox taking 4.x's calls too: `add(event)` and `commit()` use the session
    `async with` opened (or one of the repository's own), and `get_many` lists pending rows.

    `session_factory` is accepted for 4.x callers and unused: rows live in the repository.
    """

    def __init__(self, session_factory: Callable[[], Any] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._own = MemoryOutboxSession()

    def _current(self) -> MemoryOutboxSession:
        return self._session.get() or self._own

    @overload
    def add(self, session: MemoryOutboxSession, event: INotificationEvent) -> None: ...
    @overload
    def add(self, session: INotificationEvent, event: None = None) -> None: ...
    def add(
        self,
        session: MemoryOutboxSession | INotificationEvent,
        event: INotificationEvent | None = None,
    ) -> None:
        """`add(session, event)`, or 4.x's `add(event)` on the current session."""
        if isinstance(session, MemoryOutboxSession):
            if event is None:
                raise TypeError("add(session, event) needs the event")
            super().add(session, event)
        else:
            super().add(self._current(), session)

    async def commit(self, session: MemoryOutboxSession | None = None) -> None:
        """Commit `session`, or (4.x's `commit()`) the current one."""
        await super().commit(self._current() if session is None else session)

    async def get_many(
        self, batch_size: int = 100, topic: str | None = None
    ) -> list[OutboxedEvent]:
        """Up to `batch_size` committed, unpublished rows (of `topic` if given), oldest first."""
        rows = [
            dataclasses.replace(row.event, payload=self._codec.decode(row.stored))
            for row in self._rows.values()
            if row.event.status is OutboxStatus.PENDING
            and (topic is None or row.event.topic == topic)
        ]
        return rows[:batch_size]
