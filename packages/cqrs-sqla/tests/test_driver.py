"""PostgreSQL's hot statements run compiled on asyncpg (`cqrs_sqla.dialects._driver`) and must
behave as SQLAlchemy's execution of the same Core statement would."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cqrs.faults import is_destination_fault
from cqrs.testing._support.services import require_service
from cqrs_sqla.dialects._statements import Statements
from cqrs_sqla.schema import UTCDateTime

pytestmark = pytest.mark.postgres


class _OnDriver(Statements):
    autocommit: ClassVar[bool] = True
    on_driver: ClassVar[bool] = True


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(require_service("postgres").url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def table(engine: AsyncEngine) -> AsyncIterator[sa.Table]:
    table = sa.Table(
        f"driver_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
    )
    async with engine.begin() as conn:
        await conn.run_sync(table.create)
    yield table
    async with engine.begin() as conn:
        await conn.run_sync(table.drop)


async def test_rows_and_counts_are_what_sqlalchemy_gives(
    engine: AsyncEngine, table: sa.Table
) -> None:
    statements = _OnDriver(engine)
    row_id = uuid.uuid4()
    at = datetime.datetime(2026, 12, 6, 12, 30, 1, 123456, tzinfo=datetime.UTC)
    inserted = await statements.run(
        sa.insert(table), {"id": row_id, "at": at, "doc": {"a": [1, "b"]}, "n": None}
    )
    assert inserted.rowcount == 1
    select = sa.select(table).where(table.c.id == sa.bindparam("id", type_=table.c.id.type))
    on_driver = (await statements.run(select, {"id": row_id})).all()
    async with engine.connect() as conn:
        through_sqlalchemy = [tuple(r) for r in await conn.execute(select, {"id": row_id})]
    assert on_driver == through_sqlalchemy == [(row_id, at, {"a": [1, "b"]}, None)]
    assert on_driver[0][1].tzinfo is not None
    update = sa.update(table).values(n=sa.bindparam("n", type_=sa.Integer()))
    assert (await statements.run(update, {"n": 7})).rowcount == 1


async def test_an_expanding_in_list_runs_through_sqlalchemy(
    engine: AsyncEngine, table: sa.Table
) -> None:
    statements = _OnDriver(engine)
    ids = [uuid.uuid4(), uuid.uuid4()]
    now = datetime.datetime.now(datetime.UTC)
    for row_id in ids:
        await statements.run(sa.insert(table), {"id": row_id, "at": now, "doc": {}, "n": 1})
    select = sa.select(table.c.id).where(table.c.id.in_(ids)).order_by(table.c.id)
    assert [row[0] for row in (await statements.run(select, {})).all()] == sorted(ids)


async def test_a_duplicate_key_raises_sqlalchemys_integrity_error(
    engine: AsyncEngine, table: sa.Table
) -> None:
    statements = _OnDriver(engine)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "at": datetime.datetime.now(datetime.UTC),
        "doc": {},
        "n": 1,
    }
    await statements.run(sa.insert(table), values)
    with pytest.raises(IntegrityError):
        await statements.run(sa.insert(table), values)
    assert (await statements.run(sa.select(sa.func.count()).select_from(table), {})).all() == [(1,)]


async def test_a_connection_killed_mid_statement_is_a_destination_fault_and_not_reused(
    engine: AsyncEngine,
) -> None:
    statements = _OnDriver(engine)
    pid = sa.select(sa.func.pg_backend_pid())
    (victim,) = (await statements.run(pid, {})).all()[0]
    sleeping = asyncio.ensure_future(statements.run(sa.select(sa.func.pg_sleep(sa.literal(5))), {}))
    await asyncio.sleep(0.3)
    async with engine.connect() as conn:
        await conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": victim})
    with pytest.raises(BaseException) as killed:
        await sleeping
    assert is_destination_fault(killed.value), repr(killed.value)
    (after,) = (await statements.run(pid, {})).all()[0]
    assert after != victim
