"""`SqlAlchemyOutboxedEventRepository`: the transactional outbox on PostgreSQL, MariaDB/MySQL
and SQLite through SQLAlchemy's asyncio extension.

Example::

    engine = create_async_engine("sqlite+aiosqlite:///app.db")
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine))
    await outbox.create_schema()

    async with outbox as session:
        session.add(order)                      # business change
        outbox.add(session, order_placed_event)  # in the same transaction
        await outbox.commit(session)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import registry

from cqrs.backoff import ExponentialBackoff
from cqrs.clock import utcnow
from cqrs.outbox.codec import RowCodec
from cqrs.outbox.protocol import OutboxedEvent, OutboxStats, OutboxStatus
from cqrs.outbox.topics import DEFAULT_TOPIC_RULES, TopicRules
from cqrs.protocols.models import INotificationEvent
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer
from cqrs_sqla._listener import listening
from cqrs_sqla._unit_of_work import UnitOfWork, engine_from_url
from cqrs_sqla.dialects import OutboxStatements, outbox_statements
from cqrs_sqla.dialects.postgresql import drop_notify_ddl, notify_channel, notify_ddl
from cqrs_sqla.schema import outbox_table

__all__ = ["SqlAlchemyOutboxedEventRepository"]

_PENDING = int(OutboxStatus.PENDING)
_STATUSES = {int(status): status for status in OutboxStatus}
"""Statuses by stored value (an enum call per claimed row costs more than this lookup)."""
_mapped: dict[sa.Table, type] = {}
_registry = registry()


def _row_class(table: sa.Table) -> type:
    """A plain class mapped to `table`, so staged rows ride on the caller's ORM session."""
    cls = _mapped.get(table)
    if cls is None:
        cls = type(f"OutboxRow_{table.name}", (), {"__module__": __name__})
        _registry.map_imperatively(cls, table)
        _mapped[table] = cls
    return cls


class SqlAlchemyOutboxedEventRepository(UnitOfWork):
    """An outbox table written in the caller's `AsyncSession` and drained by relays.

    Relays claim with `FOR UPDATE SKIP LOCKED` plus a lease on PostgreSQL and MariaDB/MySQL,
    and under SQLite's single writer lock (`BEGIN IMMEDIATE`) on SQLite; each database's
    statements are in `cqrs_sqla.dialects`. Published rows are deleted; dead-lettered rows stay,
    with their last error, until replayed or discarded. On PostgreSQL with asyncpg, an insert
    trigger notifies idle relays at commit (`wakeups`); elsewhere relays poll.
    """

    listen_backoff = ExponentialBackoff(base=0.5, cap=30.0)
    """Delays between attempts to reopen a lost `LISTEN` connection."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | AsyncEngine,
        compressor: Compressor | None = None,
        *,
        table: str | sa.Table | None = None,
        serializer: Serializer | EventSerializer | None = None,
        topic_rules: TopicRules = DEFAULT_TOPIC_RULES,
    ) -> None:
        super().__init__(session_factory)
        self.table = table if isinstance(table, sa.Table) else outbox_table(table)
        self._row = _row_class(self.table)
        self._codec = RowCodec(serializer, compressor, topic_rules)

    @classmethod
    def from_url(
        cls, url: str, compressor: Compressor | None = None, **engine_options: Any
    ) -> SqlAlchemyOutboxedEventRepository:
        """Build an engine for `url` (an optional `table=` query parameter names the table)."""
        engine, table = engine_from_url(url, **engine_options)
        outbox = cls(engine, compressor, table=table)
        outbox._owns_engine = True
        return outbox

    def _tables(self) -> list[sa.Table]:
        return [self.table]

    @property
    def _notifies(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def create_schema(self) -> None:
        """Create the table and its indexes if missing; on PostgreSQL also (re)create the
        insert trigger that wakes idle relays (`cqrs_sqla.dialects.postgresql.notify_ddl`)."""
        await super().create_schema()
        if self._notifies:
            async with self.engine.begin() as conn:
                for statement in notify_ddl(self.table):
                    await conn.exec_driver_sql(statement)

    async def drop_schema(self) -> None:
        """Drop the table (and, on PostgreSQL, its notify function)."""
        if self._notifies:
            async with self.engine.begin() as conn:
                for statement in drop_notify_ddl(self.table):
                    await conn.exec_driver_sql(statement)
        await super().drop_schema()

    @contextlib.asynccontextmanager
    async def wakeups(self) -> AsyncIterator[asyncio.Event | None]:
        """While open, an event set when rows were committed (on PostgreSQL with asyncpg:
        a `LISTEN` connection of its own, reopened with `listen_backoff` when lost), or `None`
        where the database cannot notify and relays rely on polling alone."""
        if not self._notifies or self.engine.dialect.driver != "asyncpg":
            yield None
            return
        async with listening(self.engine, notify_channel(self.table), self.listen_backoff) as event:
            yield event

    @functools.cached_property
    def _sql(self) -> OutboxStatements:
        """The relay side's statements for this table and engine, built on first use."""
        return outbox_statements(self.engine, self.table)

    # -- writing side ---------------------------------------------------------------------------

    def add(self, session: AsyncSession, event: INotificationEvent) -> None:
        """Stage `event` in `session`: it is inserted when the session flushes or commits."""
        columns = self._codec.columns(event)
        row = self._row()
        for name, value in columns.items():
            setattr(row, name, value)
        row.available_at = utcnow()
        row.status = _PENDING
        row.attempts = 0
        session.add(row)

    async def commit(self, session: AsyncSession | None = None) -> None:
        if session is not None:
            await session.commit()

    async def rollback(self, session: AsyncSession | None = None) -> None:
        if session is not None:
            await session.rollback()

    def rows_for(self, events: Sequence[INotificationEvent]) -> list[dict[str, Any]]:
        """The rows for `events`, to insert with `sa.insert(outbox.table)` in any transaction."""
        now = utcnow()
        return [
            {**self._codec.columns(e), "available_at": now, "status": _PENDING, "attempts": 0}
            for e in events
        ]

    async def add_many(self, events: Sequence[INotificationEvent]) -> None:
        """Insert `events` in one transaction of their own (imports, benchmarks, backfills)."""
        async with self.engine.begin() as conn:
            await conn.execute(sa.insert(self.table), self.rows_for(events))

    # -- relay side -----------------------------------------------------------------------------

    async def claim(
        self, *, worker_id: str, batch_size: int, lease_seconds: float
    ) -> list[OutboxedEvent]:
        now = utcnow()
        until = now + datetime.timedelta(seconds=lease_seconds)
        rows = await self._sql.claim(worker_id, batch_size, now, until)
        return [self._event(row) for row in rows]

    @property
    def held_back(self) -> bool:
        """Whether the last claim found nothing because other relays hold every waiting key
        (PostgreSQL); a relay then waits longer before it looks again (`OutboxRelay.run`)."""
        return self._sql.held_back

    def _event(self, row: Any) -> OutboxedEvent:
        """The event of a row of the `RETURNED` columns (unpacked by position: a claim builds
        hundreds of these, and attribute access on rows costs several times more)."""
        (id_, event_id, name, topic, payload, key, correlation, causation, created_at,
         content_type, status, attempts, last_error, headers) = row  # fmt: skip
        return OutboxedEvent(
            id=id_,
            event_id=event_id,
            event_name=name,
            topic=topic,
            payload=self._codec.decode(payload),
            partition_key=key,
            correlation_id=correlation,
            causation_id=causation,
            created_at=created_at,
            content_type=content_type,
            status=_STATUSES[status],
            attempts=attempts,
            last_error=last_error,
            headers=None if headers is None else self._codec.read_headers(headers),
        )

    async def mark_published(self, events: Sequence[OutboxedEvent], *, worker_id: str) -> int:
        if not events:
            return 0
        return await self._sql.delete_published([e.id for e in events], worker_id)

    async def release(
        self,
        events: Sequence[OutboxedEvent],
        *,
        worker_id: str,
        retry_at: datetime.datetime | None = None,
    ) -> None:
        if events:
            await self._sql.release([e.id for e in events], worker_id, retry_at)

    async def mark_failed(
        self,
        event: OutboxedEvent,
        *,
        worker_id: str,
        error: str,
        retry_at: datetime.datetime | None,
    ) -> OutboxStatus:
        status = OutboxStatus.DEAD if retry_at is None else OutboxStatus.PENDING
        current = await self._sql.fail(event.id, worker_id, error, status, retry_at)
        return status if current is None else OutboxStatus(current)

    async def dead_letters(self, *, limit: int = 100) -> list[OutboxedEvent]:
        return [self._event(row) for row in await self._sql.dead_letters(limit)]

    async def replay(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        return await self._sql.replay(ids, utcnow())

    async def discard(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        return await self._sql.discard(ids)

    async def stats(self) -> OutboxStats:
        now = utcnow()
        row = await self._sql.stats(now)
        oldest = _as_utc(row[3])
        return OutboxStats(
            int(row[0] or 0),
            int(row[1] or 0),
            int(row[2] or 0),
            None if oldest is None else now - oldest,
            delayed=int(row[4] or 0),
        )


def _as_utc(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return cast(datetime.datetime, value)
