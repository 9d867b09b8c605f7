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

import datetime
import functools
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry

from cqrs.outbox._encoding import RowCodec
from cqrs.outbox.topics import DEFAULT_TOPIC_RULES, TopicRules
from cqrs.protocols.models import INotificationEvent
from cqrs.protocols.outbox import OutboxedEvent, OutboxStats, OutboxStatus
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer
from cqrs_sqla import _asyncpg
from cqrs_sqla._claim import claim_rows, returned_columns
from cqrs_sqla._unit_of_work import UnitOfWork
from cqrs_sqla.schema import aware_utc, outbox_table

__all__ = ["SqlAlchemyOutboxedEventRepository"]

_PENDING, _DEAD = int(OutboxStatus.PENDING), int(OutboxStatus.DEAD)
_STATUSES = {int(status): status for status in OutboxStatus}
"""Statuses by stored value (an enum call per claimed row costs more than this lookup)."""
_ID_ARRAY = postgresql.ARRAY(sa.BigInteger())
_mapped: dict[sa.Table, type] = {}
_registry = registry()


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


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
    and under SQLite's single writer lock (`BEGIN IMMEDIATE`) on SQLite. Published rows are
    deleted; dead-lettered rows stay, with their last error, until replayed or discarded.
    """

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
        self._owns_engine = False

    @classmethod
    def from_url(
        cls, url: str, compressor: Compressor | None = None, **engine_options: Any
    ) -> SqlAlchemyOutboxedEventRepository:
        """Build an engine for `url` (an optional `table=` query parameter names the table)."""
        parsed = sa.make_url(url)
        table = parsed.query.get("table")
        if isinstance(table, tuple):
            table = table[-1]
        clean = parsed.difference_update_query(["table"])
        outbox = cls(create_async_engine(clean, **engine_options), compressor, table=table)
        outbox._owns_engine = True
        return outbox

    async def close(self) -> None:
        """Dispose of the engine if `from_url` created it (a given engine is the caller's)."""
        if self._owns_engine:
            await self.engine.dispose()

    def _tables(self) -> list[sa.Table]:
        return [self.table]

    # -- writing side ---------------------------------------------------------------------------

    def add(self, session: AsyncSession, event: INotificationEvent) -> None:
        """Stage `event` in `session`: it is inserted when the session flushes or commits."""
        columns = self._codec.columns(event)
        row = self._row()
        for name, value in columns.items():
            setattr(row, name, value)
        row.available_at = _utcnow()
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
        now = _utcnow()
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
        now = _utcnow()
        until = now + datetime.timedelta(seconds=lease_seconds)
        rows = await claim_rows(self.engine, self.table, worker_id, batch_size, now, until)
        return [self._event(row) for row in rows]

    def _event(self, row: Any) -> OutboxedEvent:
        """The event of a row selected with `returned_columns` (unpacked by position: a claim
        builds hundreds of these, and attribute access on rows costs several times more)."""
        (id_, event_id, name, topic, payload, key, correlation, causation, created_at,
         content_type, status, attempts, last_error) = row  # fmt: skip
        return OutboxedEvent(
            id=id_,
            event_id=event_id,
            event_name=name,
            topic=topic,
            payload=self._codec.decode(payload),
            partition_key=key,
            correlation_id=correlation,
            causation_id=causation,
            created_at=aware_utc(created_at),  # raw asyncpg rows hold it naive
            content_type=content_type,
            status=_STATUSES[status],
            attempts=attempts,
            last_error=last_error,
        )

    def _held_by(self, ids: Sequence[int], worker_id: str) -> Any:
        t = self.table.c
        return sa.and_(self._among(ids), t.lease_owner == worker_id, t.status == _PENDING)

    def _among(self, ids: Sequence[int]) -> Any:
        """`id IN (...)`; on PostgreSQL `id = ANY(array)`, one parameter for any batch size."""
        if self.engine.dialect.name == "postgresql":
            return self.table.c.id == sa.any_(sa.literal(list(ids), _ID_ARRAY))
        return self.table.c.id.in_(ids)

    async def _write(self, statement: Any) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount

    async def mark_published(self, events: Sequence[OutboxedEvent], *, worker_id: str) -> int:
        if not events:
            return 0
        ids = [e.id for e in events]
        if self.engine.dialect.name == "postgresql":
            status = await _asyncpg.pg_execute(self.engine, self._postgresql_settle, ids, worker_id)
            return int(status.rpartition(" ")[2])
        return await self._write(sa.delete(self.table).where(self._held_by(ids, worker_id)))

    @functools.cached_property
    def _postgresql_settle(self) -> str:
        """`DELETE` of the rows among `$1` (ids) still leased to `$2` (worker id), autocommitted."""
        name = self.engine.dialect.identifier_preparer.format_table(self.table)
        return (
            f"DELETE FROM {name} WHERE id = ANY($1::bigint[]) AND lease_owner = $2 "
            f"AND status = {_PENDING}"
        )

    async def release(
        self,
        events: Sequence[OutboxedEvent],
        *,
        worker_id: str,
        retry_at: datetime.datetime | None = None,
    ) -> None:
        if not events:
            return
        ids = [e.id for e in events]
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if retry_at is not None:
            values["available_at"] = retry_at
        await self._write(sa.update(self.table).where(self._held_by(ids, worker_id)).values(values))

    async def mark_failed(
        self,
        event: OutboxedEvent,
        *,
        worker_id: str,
        error: str,
        retry_at: datetime.datetime | None,
    ) -> OutboxStatus:
        t = self.table.c
        status = OutboxStatus.DEAD if retry_at is None else OutboxStatus.PENDING
        values: dict[str, Any] = {
            "attempts": t.attempts + 1,
            "last_error": error,
            "lease_owner": None,
            "lease_until": None,
            "status": int(status),
        }
        if retry_at is not None:
            values["available_at"] = retry_at
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(self.table).where(self._held_by([event.id], worker_id)).values(values)
            )
            if result.rowcount:
                return status
            current = await conn.scalar(sa.select(t.status).where(t.id == event.id))
        return OutboxStatus.PUBLISHED if current is None else OutboxStatus(current)

    async def dead_letters(self, *, limit: int = 100) -> list[OutboxedEvent]:
        t = self.table.c
        async with self.engine.connect() as conn:
            result = await conn.execute(
                sa.select(*returned_columns(self.table))
                .where(t.status == _DEAD)
                .order_by(t.id)
                .limit(limit)
            )
            return [self._event(row) for row in result]

    async def replay(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        t = self.table.c
        return await self._write(
            sa.update(self.table)
            .where(t.id.in_(ids), t.status == _DEAD)
            .values(status=_PENDING, attempts=0, available_at=_utcnow())
        )

    async def discard(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        t = self.table.c
        return await self._write(sa.delete(self.table).where(t.id.in_(ids), t.status == _DEAD))

    async def stats(self) -> OutboxStats:
        t = self.table.c
        now = _utcnow()
        pending = t.status == _PENDING
        leased = sa.and_(pending, t.lease_until > now)
        query = sa.select(
            _count(pending),
            _count(leased),
            _count(t.status == _DEAD),
            sa.func.min(sa.case((pending, t.created_at))),
            _count(
                sa.and_(
                    pending,
                    sa.or_(t.lease_until.is_(None), t.lease_until <= now),
                    t.available_at > now,
                )
            ),
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        oldest = _as_utc(row[3])
        return OutboxStats(
            int(row[0] or 0),
            int(row[1] or 0),
            int(row[2] or 0),
            None if oldest is None else now - oldest,
            delayed=int(row[4] or 0),
        )


def _count(condition: Any) -> Any:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _as_utc(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return cast(datetime.datetime, value)
