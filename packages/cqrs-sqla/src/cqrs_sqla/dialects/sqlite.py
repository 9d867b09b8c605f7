"""SQLite (aiosqlite): one writer at a time, so a claim takes the write lock up front.

`BEGIN IMMEDIATE` makes concurrent claims take turns instead of failing to upgrade a read lock;
inside it the claim is the shared two statements (there are no row locks to skip).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from cqrs_sqla.dialects._outbox import OutboxStatements
from cqrs_sqla.dialects._saga import SagaStatements

__all__ = ["Outbox", "Saga"]


class Outbox(OutboxStatements):
    """The outbox on SQLite: claims serialized by the database's write lock."""

    async def _begin_claim(self, conn: AsyncConnection) -> None:
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


Saga = SagaStatements
"""Sagas on SQLite: the shared statements, each write a short transaction."""
