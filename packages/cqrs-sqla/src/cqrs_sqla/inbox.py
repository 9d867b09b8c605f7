"""`SqlAlchemyInbox`: message deduplication recorded in the handler's own SQL transaction.

Example::

    inbox = SqlAlchemyInbox(async_sessionmaker(engine))
    async with inbox as session:
        if await inbox.record(session, event.event_id, consumer="billing"):
            session.add(Invoice(...))
            await inbox.commit(session)
"""

from __future__ import annotations

import contextvars
import datetime
import uuid
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cqrs_sqla.schema import inbox_table

__all__ = ["SqlAlchemyInbox"]


class SqlAlchemyInbox:
    """Inserts `(consumer, message_id)` once; a duplicate insert reports the message as seen.

    A concurrent delivery of the same message waits on the primary key until the first
    transaction ends, so exactly one committed transaction applies the effect.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | AsyncEngine,
        *,
        table: str | sa.Table | None = None,
    ) -> None:
        if isinstance(session_factory, AsyncEngine):
            session_factory = async_sessionmaker(session_factory, expire_on_commit=False)
        engine = session_factory.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the session factory must be bound to an AsyncEngine (bind=engine)")
        self.engine = engine
        self.session_factory = session_factory
        self.table = table if isinstance(table, sa.Table) else inbox_table(table)
        self._session: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
            f"cqrs_sqla_inbox_{id(self)}", default=None
        )

    async def create_schema(self) -> None:
        """Create the table if it does not exist."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.create_all, tables=[self.table])

    async def drop_schema(self) -> None:
        """Drop the table."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.drop_all, tables=[self.table])

    async def __aenter__(self) -> AsyncSession:
        session = self.session_factory()
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
            await session.close()

    def _insert_ignoring_duplicates(self, dialect: str) -> Any:
        if dialect == "postgresql":
            return postgresql.insert(self.table).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(self.table).on_conflict_do_nothing()
        return mysql.insert(self.table).prefix_with("IGNORE")

    async def record(
        self, session: AsyncSession, message_id: uuid.UUID, *, consumer: str = "default"
    ) -> bool:
        statement = self._insert_ignoring_duplicates(self.engine.dialect.name).values(
            consumer=consumer,
            message_id=message_id,
            received_at=datetime.datetime.now(datetime.UTC),
        )
        result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def commit(self, session: AsyncSession) -> None:
        await session.commit()

    async def rollback(self, session: AsyncSession) -> None:
        await session.rollback()

    async def seen(self, message_id: uuid.UUID, *, consumer: str = "default") -> bool:
        t = self.table.c
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.literal(1)).where(t.consumer == consumer, t.message_id == message_id)
            )
        return found is not None
