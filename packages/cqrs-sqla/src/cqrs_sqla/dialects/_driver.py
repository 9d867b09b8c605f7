"""PostgreSQL's hot single statements, compiled from their Core form once and run on asyncpg.

SQLAlchemy's execution of one statement (building the `Connection`, the execution context, the
`Result` and its rows) costs 80-100 µs of Python here, measured against the same compiled SQL run
on the pooled asyncpg connection: a third of a saga transition, a tenth of the relay's cycle.
The statements stay SQLAlchemy Core, defined once in the dialect modules; only their execution
takes this shorter path, with SQLAlchemy's own bind and result processing of each column type
and its own pool (checkout through the public `AsyncEngine.raw_connection()`). A connection
broken mid-statement is invalidated, never handed out again; a constraint violation is raised as
SQLAlchemy's `IntegrityError`, as the Core path raises it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

__all__ = ["DriverResult", "DriverStatement", "run_on_driver"]

_Processor = Callable[[Any], Any] | None
_STATUS_COUNT = re.compile(r"(\d+)$")


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A Core statement compiled for asyncpg: its SQL, its `$n` parameters by name, and the
    processors SQLAlchemy would apply to each parameter and each returned column."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[sa.BindParameter[Any], ...]
    bind_processors: tuple[_Processor, ...]
    returns_rows: bool
    result_processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    """`(position, processor)` of the returned columns that have one (most have none)."""

    @classmethod
    def compile(
        cls, statement: sa.ClauseElement, dialect: sa.Dialect, keys: Sequence[str]
    ) -> DriverStatement | None:
        """`statement` compiled for `dialect` with parameters `keys`; `None` if it needs values
        at compile time (expanding `IN` lists), which only SQLAlchemy's execution renders."""
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if not isinstance(compiled, SQLCompiler):
            return None
        if compiled.literal_execute_params or compiled.post_compile_params:
            return None
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name] for name in names)
        returned = list(getattr(statement, "exported_columns", ()))
        processors = (
            col.type.dialect_impl(dialect).result_processor(dialect, None) for col in returned
        )
        return cls(
            sql=compiled.string,
            names=names,
            binds=binds,
            bind_processors=tuple(
                bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds
            ),
            returns_rows=bool(returned),
            result_processors=tuple(
                (index, process) for index, process in enumerate(processors) if process is not None
            ),
        )

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params`, each processed as SQLAlchemy would."""
        values = []
        for name, bind, process in zip(self.names, self.binds, self.bind_processors, strict=True):
            value = params.get(name, bind.effective_value)
            values.append(process(value) if process is not None else value)
        return values

    def rows(self, records: Sequence[Any]) -> list[tuple[Any, ...]]:
        """`records` as tuples, each column processed as SQLAlchemy's result would."""
        if not self.result_processors:
            return [tuple(record) for record in records]
        rows = []
        for record in records:
            row = list(record)
            for index, process in self.result_processors:
                row[index] = process(row[index])
            rows.append(tuple(row))
        return rows


@dataclass(frozen=True, slots=True)
class DriverResult:
    """What a statement gave back: its rows (when it returns any) and the rows it matched."""

    rowcount: int
    rows: list[tuple[Any, ...]]

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows


async def run_on_driver(
    engine: AsyncEngine, compiled: DriverStatement, params: Mapping[str, Any]
) -> DriverResult:
    """Run `compiled` autocommitted on a pooled asyncpg connection of `engine`."""
    import asyncpg  # type: ignore[import-untyped,import-not-found,unused-ignore]

    arguments = compiled.arguments(params)
    fairy = await engine.raw_connection()
    try:
        connection: Any = fairy.driver_connection
        if compiled.returns_rows:
            records = await connection.fetch(compiled.sql, *arguments)
            return DriverResult(len(records), compiled.rows(records))
        status: str = await connection.execute(compiled.sql, *arguments)
        match = _STATUS_COUNT.search(status)
        return DriverResult(int(match[1]) if match else 0, [])
    except BaseException as exc:
        if not isinstance(exc, asyncpg.PostgresError) or isinstance(
            exc, asyncpg.PostgresConnectionError
        ):
            await greenlet_spawn(fairy.invalidate)
        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
            raise IntegrityError(compiled.sql, arguments, exc) from exc
        raise
    finally:
        await greenlet_spawn(fairy.close)
