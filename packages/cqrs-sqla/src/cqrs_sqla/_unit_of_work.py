"""The `async with repository as session` unit of work shared by the outbox and the inbox."""

from __future__ import annotations

import contextvars
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__: list[str] = []


class UnitOfWork:
    """Opens a session from the factory on `async with`, and closes (rolling back) it on exit.

    The current session lives in a context variable, so concurrent tasks sharing one repository
    each get their own. Subclasses name their table(s) and implement `_tables` for schema helpers.
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

    def _tables(self) -> list[sa.Table]:
        raise NotImplementedError

    async def create_schema(self) -> None:
        """Create the table(s) and indexes if they do not exist."""
        tables = self._tables()
        async with self.engine.begin() as conn:
            await conn.run_sync(tables[0].metadata.create_all, tables=tables)

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
