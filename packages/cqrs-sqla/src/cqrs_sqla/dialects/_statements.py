"""Where a statement runs: autocommitted where that is free, else in a transaction of its own.

asyncpg and SQLAlchemy's adapter switch a pooled connection to autocommit on the client alone (no
round trip), so on PostgreSQL a single statement runs on `engine.execution_options(
isolation_level="AUTOCOMMIT")`: the caller's engine and pool, each checkout autocommitted and set
back on return, one round trip instead of BEGIN, statement, COMMIT. A sibling engine would need a
pool of its own (more connections, one more thing to size and dispose of) for no gain. MySQL
drivers send `SET autocommit` (and the reset sends two more statements) on every switch, which
costs more than the COMMIT it saves, and SQLite has no round trip to save, so there a single
statement runs in a short transaction (MySQL sends no BEGIN: statement, COMMIT).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs_sqla.dialects._driver import DriverResult, DriverStatement, run_on_driver
from cqrs_sqla.schema import UTCDateTime

__all__ = ["Statements", "constant", "moment"]


class Statements:
    """Statements for one set of tables, built once on first use, and the engine they run on."""

    autocommit: ClassVar[bool] = False
    """Whether single statements run autocommitted (the driver switches it without a round trip)."""

    on_driver: ClassVar[bool] = False
    """Whether `run` takes the driver's path (`cqrs_sqla.dialects._driver`): PostgreSQL only."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.autocommit else engine
        )
        self._compiled: dict[tuple[int, frozenset[str]], DriverStatement | None] = {}

    def single(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for one statement whose effect is committed when the block ends."""
        if self.autocommit:
            return self._single.connect()
        return self.engine.begin()

    async def run(self, statement: Any, params: Mapping[str, Any]) -> DriverResult:
        """Run one hot statement whose effect is committed on return: its rows and row count."""
        if self.on_driver:
            key = (id(statement), frozenset(params))
            try:
                compiled = self._compiled[key]
            except KeyError:
                compiled = self._compiled[key] = DriverStatement.compile(
                    statement, self.engine.dialect, list(params)
                )
            if compiled is not None:
                return await run_on_driver(self.engine, compiled, params)
        async with self.single() as conn:
            result = await conn.execute(statement, params)
            rows = [tuple(row) for row in result] if result.returns_rows else []
            return DriverResult(result.rowcount, rows)


def constant(value: int) -> sa.ColumnElement[int]:
    """`value` written into the SQL text: the planner sees it, and the statement stays cached."""
    return sa.literal_column(str(int(value)), sa.SmallInteger())


def moment(name: str) -> sa.BindParameter[datetime.datetime]:
    """A timestamp parameter `name`, bound as naive UTC like the tables store it."""
    return sa.bindparam(name, type_=UTCDateTime())
