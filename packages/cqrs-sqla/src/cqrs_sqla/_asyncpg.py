"""One autocommitted statement on a pooled asyncpg connection: the PostgreSQL hot paths.

A single statement needs no transaction around it, so it costs one round trip instead of three
(BEGIN, statement, COMMIT), and the raw pool checkout skips building a SQLAlchemy `Connection`
and processing its result rows: most of the client-side cost of a claim or a saga transition.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

__all__ = ["pg_execute", "pg_fetch"]


@contextlib.asynccontextmanager
async def _driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The asyncpg connection of a pooled checkout, returned to the pool afterwards; a connection
    interrupted or broken mid-statement is invalidated, never handed out again."""
    import asyncpg  # type: ignore[import-untyped,import-not-found,unused-ignore]

    fairy = await engine.raw_connection()
    try:
        yield fairy.driver_connection
    except BaseException as exc:
        if not isinstance(exc, asyncpg.PostgresError) or isinstance(
            exc, asyncpg.PostgresConnectionError
        ):
            await greenlet_spawn(fairy.invalidate)
        raise
    finally:
        await greenlet_spawn(fairy.close)  # the pool may close it, which awaits


async def pg_execute(engine: AsyncEngine, sql: str, *args: Any) -> str:
    """Run `sql` (with `$n` parameters) autocommitted; returns the command status, e.g.
    `"DELETE 500"`."""
    async with _driver_connection(engine) as connection:
        status: str = await connection.execute(sql, *args)
    return status


async def pg_fetch(engine: AsyncEngine, sql: str, *args: Any) -> list[Any]:
    """Run `sql` (with `$n` parameters) autocommitted; returns its rows as asyncpg records, which
    unpack by position."""
    async with _driver_connection(engine) as connection:
        rows: list[Any] = await connection.fetch(sql, *args)
    return rows
