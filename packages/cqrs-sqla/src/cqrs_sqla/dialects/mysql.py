"""MariaDB and MySQL (asyncmy): the claim is two statements in a short `READ COMMITTED`
transaction, `SELECT ... FOR UPDATE SKIP LOCKED` then the lease `UPDATE`.

`READ COMMITTED` keeps the locking read to the rows it returns (no gap locks) and lets the
subquery that finds each row's previous unsettled row see the latest committed state. It is
set for that one transaction (`SET TRANSACTION`), which costs one statement instead of the
four of switching the session's level and back.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection

from cqrs_sqla.dialects._outbox import OutboxStatements
from cqrs_sqla.dialects._saga import SagaStatements

__all__ = ["Outbox", "Saga"]


class Outbox(OutboxStatements):
    """The outbox on MariaDB/MySQL: concurrent claims skip each other's locked rows."""

    skip_locked: ClassVar[bool] = True

    async def _begin_claim(self, conn: AsyncConnection) -> None:
        await conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


Saga = SagaStatements
"""Sagas on MariaDB/MySQL: the shared statements, each write a short transaction."""
