"""An in-memory transactional outbox with the same claim, lease and ordering rules as SQL ones."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from cqrs.clock import utcnow
from cqrs.outbox.codec import RowCodec
from cqrs.outbox.protocol import OutboxedEvent, OutboxStats, OutboxStatus
from cqrs.outbox.topics import DEFAULT_TOPIC_RULES, TopicRules
from cqrs.protocols.models import INotificationEvent
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer

__all__ = ["MemoryOutboxSession", "MemoryOutboxedEventRepository"]

_UNSETTLED = (OutboxStatus.PENDING, OutboxStatus.DEAD)


@dataclasses.dataclass(slots=True)
class _Row:
    event: OutboxedEvent
    stored: bytes
    available_at: datetime.datetime
    lease_owner: str | None = None
    lease_until: datetime.datetime | None = None


class MemoryOutboxSession:
    """A unit of work: events staged here become visible to relays on commit."""

    def __init__(self) -> None:
        self.staged: list[dict[str, Any]] = []
        self.closed = False


class MemoryOutboxedEventRepository:
    """An outbox kept in process memory: for tests, examples and single-process apps.

    It loses everything when the process exits, so it gives no durability; it does give the
    exact claim semantics of the SQL outboxes, so relays and contract tests behave the same.
    """

    def __init__(
        self,
        *,
        serializer: Serializer | EventSerializer | None = None,
        compressor: Compressor | None = None,
        clock: Callable[[], datetime.datetime] = utcnow,
        topic_rules: TopicRules = DEFAULT_TOPIC_RULES,
    ) -> None:
        self._codec = RowCodec(serializer, compressor, topic_rules)
        self._clock = clock
        self._rows: dict[int, _Row] = {}
        self._by_key: dict[str, list[int]] = {}
        self._next_id = 1
        self._session: contextvars.ContextVar[MemoryOutboxSession | None] = contextvars.ContextVar(
            f"cqrs_memory_outbox_{id(self)}", default=None
        )
        self.published_total = 0

    async def __aenter__(self) -> MemoryOutboxSession:
        session = MemoryOutboxSession()
        self._session.set(session)
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session.get()
        if session is not None:
            await self.rollback(session)
            session.closed = True
        self._session.set(None)

    def add(self, session: MemoryOutboxSession, event: INotificationEvent) -> None:
        if session.closed:
            raise RuntimeError("this outbox session is closed")
        session.staged.append(self._codec.columns(event))

    async def commit(self, session: MemoryOutboxSession | None = None) -> None:
        if session is None:
            return
        now = self._clock()
        for columns in session.staged:
            row_id = self._next_id
            self._next_id += 1
            stored = columns.pop("payload")
            headers = self._codec.read_headers(columns.pop("headers"))
            event = OutboxedEvent(id=row_id, payload=b"", headers=headers, **columns)
            self._rows[row_id] = _Row(event, stored, available_at=now)
            if event.partition_key is not None:
                self._by_key.setdefault(event.partition_key, []).append(row_id)
        session.staged.clear()

    async def rollback(self, session: MemoryOutboxSession) -> None:
        session.staged.clear()

    async def claim(
        self, *, worker_id: str, batch_size: int, lease_seconds: float
    ) -> list[OutboxedEvent]:
        now = self._clock()
        candidates: list[_Row] = []
        parked: set[str] = set()
        for row in self._rows.values():
            if len(candidates) >= batch_size:
                break
            key = row.event.partition_key
            if key is not None and key in parked:
                continue
            if (
                row.event.status is OutboxStatus.PENDING
                and row.available_at <= now
                and (row.lease_until is None or row.lease_until <= now)
            ):
                candidates.append(row)
            elif key is not None:
                parked.add(key)
        chosen = {row.event.id for row in candidates}
        lease_until = now + datetime.timedelta(seconds=lease_seconds)
        claimed: list[OutboxedEvent] = []
        for row in candidates:
            key = row.event.partition_key
            if key is not None and any(
                earlier < row.event.id and earlier not in chosen for earlier in self._by_key[key]
            ):
                chosen.discard(row.event.id)
                continue
            row.lease_owner, row.lease_until = worker_id, lease_until
            claimed.append(dataclasses.replace(row.event, payload=self._codec.decode(row.stored)))
        return claimed

    def _leased(self, row_id: int, worker_id: str) -> _Row | None:
        row = self._rows.get(row_id)
        if (
            row is None
            or row.lease_owner != worker_id
            or row.event.status is not OutboxStatus.PENDING
        ):
            return None
        if row.lease_until is not None and row.lease_until <= self._clock():
            return None
        return row

    def _settle(self, row: _Row) -> None:
        del self._rows[row.event.id]
        key = row.event.partition_key
        if key is not None:
            ids = self._by_key[key]
            ids.remove(row.event.id)
            if not ids:
                del self._by_key[key]

    async def mark_published(self, events: Sequence[OutboxedEvent], *, worker_id: str) -> int:
        count = 0
        for event in events:
            row = self._leased(event.id, worker_id)
            if row is not None:
                self._settle(row)
                count += 1
        self.published_total += count
        return count

    async def release(
        self,
        events: Sequence[OutboxedEvent],
        *,
        worker_id: str,
        retry_at: datetime.datetime | None = None,
    ) -> None:
        for event in events:
            row = self._leased(event.id, worker_id)
            if row is not None:
                row.lease_owner = row.lease_until = None
                if retry_at is not None:
                    row.available_at = retry_at

    async def mark_failed(
        self,
        event: OutboxedEvent,
        *,
        worker_id: str,
        error: str,
        retry_at: datetime.datetime | None,
    ) -> OutboxStatus:
        row = self._leased(event.id, worker_id)
        if row is None:
            current = self._rows.get(event.id)
            return current.event.status if current is not None else OutboxStatus.PUBLISHED
        row.event.attempts += 1
        row.event.last_error = error
        row.lease_owner = row.lease_until = None
        if retry_at is None:
            row.event.status = OutboxStatus.DEAD
        else:
            row.available_at = retry_at
        return row.event.status

    async def dead_letters(self, *, limit: int = 100) -> list[OutboxedEvent]:
        dead = [r for r in self._rows.values() if r.event.status is OutboxStatus.DEAD][:limit]
        return [dataclasses.replace(r.event, payload=self._codec.decode(r.stored)) for r in dead]

    async def replay(self, ids: Sequence[int]) -> int:
        count = 0
        for row_id in ids:
            row = self._rows.get(row_id)
            if row is not None and row.event.status is OutboxStatus.DEAD:
                row.event.status = OutboxStatus.PENDING
                row.event.attempts = 0
                row.available_at = self._clock()
                count += 1
        return count

    async def discard(self, ids: Sequence[int]) -> int:
        count = 0
        for row_id in ids:
            row = self._rows.get(row_id)
            if row is not None and row.event.status is OutboxStatus.DEAD:
                self._settle(row)
                count += 1
        return count

    async def stats(self) -> OutboxStats:
        now = self._clock()
        pending = leased = dead = delayed = 0
        oldest: datetime.datetime | None = None
        for row in self._rows.values():
            if row.event.status is OutboxStatus.DEAD:
                dead += 1
                continue
            pending += 1
            if row.lease_until is not None and row.lease_until > now:
                leased += 1
            elif row.available_at > now:
                delayed += 1
            if oldest is None:
                oldest = row.event.created_at
        lag = None if oldest is None else now - oldest
        return OutboxStats(pending, leased, dead, lag, delayed=delayed)
