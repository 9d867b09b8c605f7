"""The `async with repository as session` unit of work shared by the outbox and the inbox."""

from __future__ import annotations

import contextvars
import logging
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cqrs_sqla.schema import add_missing_columns

__all__: list[str] = []

_log = logging.getLogger("cqrs.sqla")


class UnitOfWork:
    """Opens a session from the factory on `async with`, and closes (rolling back) it on exit.

    The current session lives in a context variable, so concurrent tasks sharing one repository
    each get their own. Subclasses name their table(s) and implement `_tables` for schema helpers;
    their `from_url` sets `_owns_engine`, so that `close()` disposes of the engine it built.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession] | AsyncEngine) -> None:
        if isinstance(session_factory, AsyncEngine):
            session_factory = async_sessionmaker(session_factory, expire_on_commit=False)
        engine = session_factory.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the session factory must be bound to an AsyncEngine (bind=engine)")
        self.engine: AsyncEngine = engine
        self.session_factory = session_factory
        self._session: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
            f"cqrs_sqla_{type(self).__name__}_{id(self)}", default=None
        )
        self._owns_engine = False

    async def close(self) -> None:
        """Dispose of the engine if `from_url` created it (a given engine is the caller's)."""
        if self._owns_engine:
            await self.engine.dispose()

    def _tables(self) -> list[sa.Table]:
        raise NotImplementedError

    async def create_schema(self) -> None:
        """Create the table(s) and indexes if they do not exist, and add the nullable columns
        a table made by an earlier release lacks."""
        tables = self._tables()
        async with self.engine.begin() as conn:
            await conn.run_sync(tables[0].metadata.create_all, tables=tables)
            added = await conn.run_sync(add_missing_columns, tables)
        if added:
            _log.info("added the columns %s", ", ".join(added))

    async def drop_schema(self) -> None:
        """Drop the table(s) (tests and tear-downs)."""
        tables = self._tables()
        async with self.engine.begin() as conn:
            await conn.run_sync(tables[0].metadata.drop_all, tables=tables)

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


def engine_from_url(url: str, **engine_options: Any) -> tuple[AsyncEngine, str | None]:
    """An engine for `url` without its `table=` query parameter, and that parameter's value
    (the last one given), naming the table of a repository built from the URL."""
    parsed = sa.make_url(url)
    table = parsed.query.get("table")
    if isinstance(table, tuple):
        table = table[-1]
    engine = create_async_engine(parsed.difference_update_query(["table"]), **engine_options)
    return engine, table
