"""An in-memory inbox with the same concurrency rules as the SQL one."""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from types import TracebackType

__all__ = ["MemoryInbox", "MemoryInboxSession"]

_Key = tuple[str, uuid.UUID]


class MemoryInboxSession:
    """One transaction's records, held until commit or rollback."""

    def __init__(self) -> None:
        self.recorded: dict[_Key, asyncio.Future[bool]] = {}


class MemoryInbox:
    """Processed message ids per consumer, in process memory (lost when the process exits)."""

    def __init__(self) -> None:
        self._done: set[_Key] = set()
        self._in_flight: dict[_Key, asyncio.Future[bool]] = {}
        self._session: contextvars.ContextVar[MemoryInboxSession | None] = contextvars.ContextVar(
            f"cqrs_memory_inbox_{id(self)}", default=None
        )

    async def __aenter__(self) -> MemoryInboxSession:
        session = MemoryInboxSession()
        self._session.set(session)
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session.get()
        self._session.set(None)
        if session is not None:
            await self.rollback(session)

    async def record(
        self, session: MemoryInboxSession, message_id: uuid.UUID, *, consumer: str = "default"
    ) -> bool:
        key = (consumer, message_id)
        if key in session.recorded:
            return False
        while True:
            if key in self._done:
                return False
            other = self._in_flight.get(key)
            if other is None:
                break
            if await asyncio.shield(other):
                return False
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = outcome
        session.recorded[key] = outcome
        return True

    def _finish(self, session: MemoryInboxSession, committed: bool) -> None:
        for key, outcome in session.recorded.items():
            if committed:
                self._done.add(key)
            self._in_flight.pop(key, None)
            if not outcome.done():
                outcome.set_result(committed)
        session.recorded.clear()

    async def commit(self, session: MemoryInboxSession) -> None:
        self._finish(session, committed=True)

    async def rollback(self, session: MemoryInboxSession) -> None:
        self._finish(session, committed=False)

    async def seen(self, message_id: uuid.UUID, *, consumer: str = "default") -> bool:
        return (consumer, message_id) in self._done
