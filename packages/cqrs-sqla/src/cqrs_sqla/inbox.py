"""`SqlAlchemyInbox`: message deduplication recorded in the handler's own SQL transaction.

Example::

    inbox = SqlAlchemyInbox(async_sessionmaker(engine))
    async with inbox as session:
        if await inbox.record(session, event.event_id, consumer="billing"):
            session.add(Invoice(...))
            await inbox.commit(session)

From a URL (what `cqrs consume --inbox` uses), `table=` names the table; the inbox then owns
the engine and `close()` disposes of it::

    inbox = SqlAlchemyInbox.from_url("postgresql+asyncpg://app@db/app?table=billing_inbox")
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cqrs_sqla._unit_of_work import UnitOfWork, engine_from_url
from cqrs_sqla.schema import inbox_table

__all__ = ["SqlAlchemyInbox"]


class SqlAlchemyInbox(UnitOfWork):
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
        super().__init__(session_factory)
        self.table = table if isinstance(table, sa.Table) else inbox_table(table)

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> SqlAlchemyInbox:
        """Build an engine for `url` (an optional `table=` query parameter names the table)."""
        engine, table = engine_from_url(url, **engine_options)
        inbox = cls(engine, table=table)
        inbox._owns_engine = True
        return inbox

    def _tables(self) -> list[sa.Table]:
        return [self.table]

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
